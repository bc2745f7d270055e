import { logTag } from '../ids';
import type { WorkItem } from '../work/queue';
import type { WorkRun } from '../work/runner';
import type { Handoff } from './context';

type DeliveryFailureItem = Extract<WorkItem, { kind: 'delivery-failure' }>;

/** BLiP could not deliver a message the bridge sent the customer (a LIME `failed` notification): the agents are told. */
export async function deliveryFailure(h: Handoff, run: WorkRun): Promise<void> {
  const { customerKey, messageId, code, reason } = run.head.item as DeliveryFailureItem;
  const conversation = await h.store.get(customerKey);
  h.logger.warn('message to the customer was not delivered', {
    customer: logTag(customerKey),
    vendor: conversation?.vendor,
    ticket: conversation?.ticket?.id,
    messageId,
    code: 'LIME_DELIVERY_FAILED',
    limeReason: `${code} ${reason}`,
  });
  h.events.emit('delivery.failed', {
    sessionId: conversation?.sessionId,
    customerKey,
    ticket: conversation?.ticket,
    direction: 'to-customer',
    messageId,
    code,
    reason,
    at: h.now().toISOString(),
  });
  await h.noteForAgents(
    conversation,
    `A message to the customer was not delivered (BLiP ${code}: ${reason}; LIME message id ${messageId}). ` +
      'The customer did not see it; consider sending it again.',
  );
}
