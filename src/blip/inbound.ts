import type { LimeMessage, LimeNotification, LimeReason } from 'blip-sdk';
import { errorCode, errorMessage } from '../core/errors';
import type { DomainEvents } from '../core/events';
import { logTag } from '../core/ids';
import type { Logger } from '../core/logger';
import type { Intake as CoreIntake } from '../core/work/intake';
import { limeToChatMessage } from './content';
import {
  customerFromMessage,
  describeIssues,
  domainOf,
  identityOf,
  type InboundMessage,
  limeMessageSchema,
  limeNotificationSchema,
} from './envelope';
import type { RefusalLog } from '../telemetry/refusals';
import type { BlipConnection } from './client';

/**
 * Where the BLiP edge hands work to: the core's intake records it durably before the handler resolves. Live signals
 * (typing, the customer's read marks) are not recorded: the intake passes them on or drops them, never waits.
 */
export type Intake = Pick<CoreIntake, 'acceptCustomerMessage' | 'acceptDeliveryFailure'> &
  Partial<Pick<CoreIntake, 'acceptCustomerTyping' | 'acceptCustomerRead'>>;

/**
 * The BLiP edge's receivers: validate each envelope, record it as work, and never throw.
 * Acknowledging late is deliberate: `received` (BRIDGE_READ_RECEIPTS=agent, sent here) or blip-sdk's `consumed` (queued,
 * sent once the handler finished) means "recorded".
 * BLiP does not deliver a message twice, so while the queue cannot be reached the intake holds the message and
 * tries again (bounded, by the core's failure policy); only then is it reported as lost, loudly.
 */
export function createInboundHandlers(
  intake: Intake,
  events: DomainEvents,
  botIdentity: string,
  logger: Logger,
  /**
   * `BRIDGE_READ_RECEIPTS=agent`: the bridge says `received` itself, once a message is recorded (blip-sdk's own
   * `received` and `consumed` are off, session-open.ts); the core says `consumed` once an agent saw it.
   * Absent: blip-sdk's receipts (`queued`).
   */
  receipts?: Pick<BlipConnection, 'notify'>,
) {
  const self = botIdentity.toLowerCase();

  /** One of the bridge's own receipts for a customer's message, shaped as blip-sdk shapes its own. */
  function receipt(message: InboundMessage, event: 'received' | 'consumed'): void {
    if (!receipts || !message.id) return;
    try {
      receipts.notify(receiptFor(message, event));
    } catch (err) {
      logger.warn('receipt for a customer message not sent: the connection is closed', {
        code: 'BLIP_NOTIFICATION_LOST',
        event,
        error: errorMessage(err),
      });
    }
  }

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
      // Nothing an agent would read: taken and done, as blip-sdk would say.
      receipt(message, 'received');
      receipt(message, 'consumed');
      // The customer typing: to the vendor now or never (not awaited: the SDK's receipts do not wait for it).
      if (rendered.typing) void intake.acceptCustomerTyping?.(customer, rendered.typing)?.catch(() => {});
      return;
    }
    const meta = { customer: logTag(customer.key), messageId: message.id };
    try {
      await intake.acceptCustomerMessage(customer, rendered.message);
      // Recorded (durably, with Redis): the customer's app shows it delivered; read comes from an agent.
      receipt(message, 'received');
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
    // The customer's app showed a message of ours: to the vendor's read marker, where there is one.
    if (n.event === 'consumed' && identityOf(n.from) !== self) {
      await intake.acceptCustomerRead?.(identityOf(n.from), n.id);
      return;
    }
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

/**
 * A receipt TO the sender of `message` (its `pp` when it came through a proxy) with the message's id, and the
 * metadata blip-sdk puts on its own (`#message.to`, `#message.uniqueId`).
 */
export function receiptFor(message: InboundMessage, event: 'received' | 'consumed'): LimeNotification {
  return {
    id: message.id,
    to: message.pp ?? message.from,
    event,
    metadata: {
      '#message.to': message.to ?? null,
      '#message.uniqueId': message.metadata?.['#uniqueId'] ?? null,
    },
  };
}

export interface SenderPolicyOptions {
  /** The bot's own identity (its echoes are not screened here). */
  botIdentity: string;
  /** BLiP's domain: tunnels are `<id>@tunnel.<domain>`. */
  domain: string;
  /** Take senders that are not router tunnels. */
  acceptDirect: boolean;
  /** Routers whose tunnels are taken (`#tunnel.owner`); empty = any router's. */
  routers: string[];
}

export type SenderRefusal = 'direct' | 'unknown-router';

/** lime-csharp's AUTHORIZATION_UNAUTHORIZED_SENDER: "the sender is not authorized to send messages to the destination". */
const UNAUTHORIZED_SENDER = 32;

/**
 * Who may reach the helpdesk. A helpdesk subbot sits behind a router: customers reach it through the router's
 * tunnels (`<id>@tunnel.msging.net`, with `#tunnel.owner` naming the router). Anyone else writing to the bot's own
 * address (`someone@msging.net`, another bot, a channel connected to this bot directly) would open tickets nobody
 * routed; so by default only tunnels are taken, and with BLIP_ROUTERS only the tunnels of those routers.
 *
 * Returns the screen the BLiP connection runs on every incoming message before the SDK sees it. A refused sender
 * gets what a LIME peer answers a message it will not take: one `failed` notification (reason 32, the sender is
 * not authorized), and no `received`/`consumed`, so nothing suggests the message was read. Refusals are logged once
 * per reason and minute with a count (a flood cannot fill the log) and counted in
 * `bhb_requests_refused_total{route="lime",reason}`, with the HTTP edge's refusals (one `RefusalLog`).
 */
export function createSenderPolicy(
  options: SenderPolicyOptions,
  refusals: RefusalLog,
): { screen(message: LimeMessage): LimeReason | undefined } {
  const self = options.botIdentity.toLowerCase();
  const tunnelDomain = `tunnel.${options.domain.toLowerCase()}`;
  const routers = new Set(options.routers.map((r) => identityOf(r)));

  function refusal(message: LimeMessage): SenderRefusal | undefined {
    if (typeof message.from !== 'string' || !message.from.includes('@')) return undefined; // malformed: logged later
    const sender = identityOf(message.from);
    if (sender === self) return undefined; // our own echo
    if (domainOf(sender) !== tunnelDomain) return options.acceptDirect ? undefined : 'direct';
    if (routers.size === 0) return undefined;
    const owner = message.metadata?.['#tunnel.owner'];
    return typeof owner === 'string' && routers.has(identityOf(owner)) ? undefined : 'unknown-router';
  }

  return {
    screen(message) {
      const reason = refusal(message);
      if (!reason) return undefined;
      const owner = message.metadata?.['#tunnel.owner'];
      refusals.refuse({
        route: 'lime',
        reason,
        code: 'LIME_SENDER_REFUSED',
        message: 'LIME message from a sender that is not a router tunnel refused',
        meta: {
          sender: logTag(identityOf(message.from ?? '')),
          senderDomain: domainOf(message.from ?? ''),
          ...(reason === 'unknown-router'
            ? { owner: typeof owner === 'string' ? identityOf(owner) : null }
            : {}),
          messageId: message.id,
        },
      });
      return {
        code: UNAUTHORIZED_SENDER,
        description:
          reason === 'direct'
            ? 'This bot serves customers its router hands over; direct messages are not taken'
            : 'This bot serves customers of its own routers only',
      };
    },
  };
}
