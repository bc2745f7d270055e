import { logTag } from '../ids';
import type { WorkItem } from '../work/queue';
import type { WorkRun } from '../work/runner';
import type { Handoff } from './context';
import { endHandoff } from './hand-back';

type OperatorCloseItem = Extract<WorkItem, { kind: 'force-close' }>;

/** An operator ends the attendance (admin API, CLI): the ticket is closed and the customer handed back. */
export async function operatorClose(h: Handoff, run: WorkRun): Promise<void> {
  const { customerKey, reason } = run.head.item as OperatorCloseItem;
  const conversation = await h.store.get(customerKey);
  if (conversation?.status !== 'open' || !conversation.ticket) {
    h.logger.info('operator close: no open attendance', { customer: logTag(customerKey) });
    return;
  }
  h.logger.info('attendance closed by an operator', { customer: logTag(customerKey) });
  await endHandoff(h, conversation, 'agent', reason);
}
