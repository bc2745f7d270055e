import type { LimeMessage, LimeNotification } from 'blip-sdk';
import { errorCode, errorMessage } from '../core/errors';
import type { HandoffService } from '../core/handoff';
import { logTag } from '../core/ids';
import type { Logger } from '../core/logger';
import { limeToChatMessage } from './content';
import {
  customerFromMessage,
  describeIssues,
  identityOf,
  limeMessageSchema,
  limeNotificationSchema,
} from './envelope';

/**
 * The BLiP edge's receivers: validate each envelope, turn it into a core call, and never throw.
 * Resolving late is deliberate: the SDK sends `consumed` only after the handler finished.
 */
export function createInboundHandlers(service: HandoffService, botIdentity: string, logger: Logger) {
  const self = botIdentity.toLowerCase();

  async function onMessage(raw: LimeMessage): Promise<void> {
    const parsed = limeMessageSchema.safeParse(raw);
    if (!parsed.success) {
      logger.warn('malformed LIME message ignored', {
        code: 'LIME_BAD_ENVELOPE',
        id: raw?.id,
        problem: describeIssues(parsed.error),
      });
      return;
    }
    const message = parsed.data;
    if (identityOf(message.from) === self) return; // our own echo
    const customer = customerFromMessage(message);
    const rendered = limeToChatMessage(message, new Date());
    if (rendered.kind === 'message' && rendered.message.unsupported) {
      logger.warn('LIME content type the bridge cannot render; the agent gets a placeholder and a note', {
        customer: logTag(customer.key),
        type: message.type,
        code: 'LIME_UNSUPPORTED_CONTENT',
      });
    }
    if (rendered.kind === 'skip') {
      logger.debug('LIME message not forwarded', {
        customer: logTag(customer.key),
        reason: rendered.reason,
        type: message.type,
      });
      return;
    }
    try {
      await service.handleCustomerMessage(customer, rendered.message);
    } catch (err) {
      logger.error('customer message could not be delivered to the helpdesk', {
        customer: logTag(customer.key),
        messageId: message.id,
        code: errorCode(err),
        error: errorMessage(err),
      });
      service.events.emit('delivery.failed', {
        customerKey: customer.key,
        direction: 'to-helpdesk',
        messageId: message.id,
        code: errorCode(err),
        reason: errorMessage(err),
        at: new Date().toISOString(),
      });
    }
  }

  async function onNotification(raw: LimeNotification): Promise<void> {
    const parsed = limeNotificationSchema.safeParse(raw);
    if (!parsed.success) {
      logger.debug('malformed LIME notification ignored', {
        code: 'LIME_BAD_ENVELOPE',
        problem: describeIssues(parsed.error),
      });
      return;
    }
    const n = parsed.data;
    if (n.event !== 'failed') return;
    await service.handleDeliveryFailure(
      identityOf(n.from),
      n.id,
      String(n.reason?.code ?? 'unknown'),
      n.reason?.description ?? 'no reason given',
    );
  }

  return { onMessage, onNotification };
}
