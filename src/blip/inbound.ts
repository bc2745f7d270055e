import type { LimeMessage, LimeNotification } from 'blip-sdk';
import { errorCode, errorMessage } from '../core/errors';
import type { DomainEvents } from '../core/events';
import { logTag } from '../core/ids';
import type { Logger } from '../core/logger';
import type { Intake as CoreIntake } from '../core/work/intake';
import { limeToChatMessage } from './content';
import {
  customerFromMessage,
  describeIssues,
  identityOf,
  limeMessageSchema,
  limeNotificationSchema,
} from './envelope';

/** Where the BLiP edge hands work to: the core's intake records it durably before the handler resolves. */
export type Intake = Pick<CoreIntake, 'acceptCustomerMessage' | 'acceptDeliveryFailure'>;

/**
 * The BLiP edge's receivers: validate each envelope, record it as work, and never throw.
 * Resolving late is deliberate: the SDK sends `consumed` only after the handler finished, so it means "recorded".
 * BLiP does not deliver a message twice, so while the queue cannot be reached the intake holds the message and
 * tries again (bounded, by the core's failure policy); only then is it reported as lost, loudly.
 */
export function createInboundHandlers(
  intake: Intake,
  events: DomainEvents,
  botIdentity: string,
  logger: Logger,
) {
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
    const meta = { customer: logTag(customer.key), messageId: message.id };
    try {
      await intake.acceptCustomerMessage(customer, rendered.message);
    } catch (err) {
      logger.error('customer message LOST: it could not be recorded (work queue unreachable)', {
        ...meta,
        code: 'CUSTOMER_MESSAGE_NOT_RECORDED',
        error: errorMessage(err),
      });
      events.emit('delivery.failed', {
        customerKey: customer.key,
        direction: 'to-helpdesk',
        messageId: message.id,
        code: 'CUSTOMER_MESSAGE_NOT_RECORDED',
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
    const customerKey = identityOf(n.from);
    await intake
      .acceptDeliveryFailure(
        customerKey,
        n.id,
        String(n.reason?.code ?? 'unknown'),
        n.reason?.description ?? 'no reason given',
      )
      .catch((err: unknown) =>
        logger.error('LIME failed notification could not be recorded; the agent will not be told', {
          customer: logTag(customerKey),
          messageId: n.id,
          code: errorCode(err),
          error: errorMessage(err),
        }),
      );
  }

  return { onMessage, onNotification };
}
