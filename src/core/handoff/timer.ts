import { logTag } from '../ids';
import type { Conversation } from '../model';
import type { WorkItem } from '../work/queue';
import type { WorkRun } from '../work/runner';
import type { Handoff } from './context';
import { endHandoff } from './hand-back';
import { surveyTimedOut } from './survey-reply';
import { textsOf } from './texts';

type TimerItem = Extract<WorkItem, { kind: 'timer' }>;

/**
 * A timer of the handoff came due (`inactivity`, `no-agent`: armed by the lifecycle in the work queue; `survey`: by
 * the survey, see `survey-reply.ts`). Ignored when it is stale: another handoff of the customer, or the condition no
 * longer holds (an agent picked it up).
 */
export async function timer(h: Handoff, run: WorkRun): Promise<void> {
  const { customerKey, timer: kind, sessionId } = run.head.item as TimerItem;
  if (kind === 'survey') return surveyTimedOut(h, customerKey, sessionId);
  const lifecycle = h.lifecycle;
  const conversation = await h.store.get(customerKey);
  const log = { customer: logTag(customerKey), timer: kind, session: sessionId };
  if (!lifecycle || conversation?.sessionId !== sessionId || conversation.status !== 'open') {
    h.logger.debug('stale handoff timer ignored', log);
    return;
  }
  if (kind === 'inactivity') {
    const text = lifecycle.options.inactivity ? textsOf(h, conversation).inactivity : undefined;
    if (text) await h.sendAutomatic(conversation, 'inactivity', text);
    h.logger.info('customer inactive: closing the attendance', log);
    await endHandoff(h, conversation, 'expired', 'the customer stopped answering');
    return;
  }
  const noAgent = lifecycle.options.noAgent;
  if (!noAgent || conversation.agent || conversation.firstAgentReplyAt) return;
  await noAgentPath(h, conversation, noAgent.action, log);
}

/**
 * Nobody can pick the attendance up (the no-agent timer, or the helpdesk saying so: `agent.unavailable`): the no-agent
 * text, then with `redirect` the customer is handed back (`expired`).
 */
export async function noAgentPath(
  h: Handoff,
  conversation: Conversation,
  action: 'message' | 'redirect',
  log: Record<string, unknown>,
): Promise<void> {
  const text = textsOf(h, conversation).noAgent;
  if (action === 'message') {
    if (text) await h.sendAutomatic(conversation, 'no_agent', text);
    return;
  }
  h.logger.info('no agent picked the attendance up in time: handing back', log);
  if (text) await h.sendAutomatic(conversation, 'no_agent', text);
  await endHandoff(h, conversation, 'expired', 'no agent picked the attendance up in time');
}
