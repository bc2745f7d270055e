import { stableId } from '../core/ids';
import type { ChatMessage, ChatState, CustomerRef, Handback } from '../core/model';
import type { CustomerChannel, Question } from '../core/ports';
import type { BlipConnection } from './client';
import { chatMessageToLime, type LimeContent } from './content';
import { buildRedirect } from './redirect';

export const SELECT_TYPE = 'application/vnd.lime.select+json';

/**
 * Channels whose customers see a LIME select as quick replies or buttons (BLiP renders it as WhatsApp buttons or a
 * list, Messenger/Instagram quick replies, Telegram keyboards, BLiP Chat buttons). Elsewhere (SMS, email, channels
 * the bridge does not name) the question goes as a text that lists the options.
 */
const QUICK_REPLY_CHANNELS = new Set([
  'WhatsApp',
  'Instagram',
  'Messenger',
  'Telegram',
  'BLiP Chat',
  'Apple Messages for Business',
  'Google Business Messages',
  'Microsoft Teams',
  'Workplace',
]);

/** The LIME content of a question: a select with quick replies (scope immediate), or its text fallback. */
export function questionToLime(customer: Pick<CustomerRef, 'channel'>, question: Question): LimeContent {
  if (!customer.channel || !QUICK_REPLY_CHANNELS.has(customer.channel)) {
    return { type: 'text/plain', content: question.fallback };
  }
  return {
    type: SELECT_TYPE,
    content: {
      scope: 'immediate',
      text: question.text,
      options: question.options.map((o, i) => ({
        order: i + 1,
        text: o.text,
        type: 'text/plain',
        value: o.value,
      })),
    },
  };
}

/** The core's CustomerChannel over BLiP: messages and the Redirect go TO the address the customer wrote from. */
export class BlipCustomerChannel implements CustomerChannel {
  constructor(
    private readonly connection: BlipConnection,
    private readonly mainService?: string,
    /** Longer agent texts are split into several messages, in order. */
    private readonly maxTextLength = 4096,
  ) {}

  async send(
    customer: CustomerRef,
    message: Pick<ChatMessage, 'text' | 'attachments'>,
    messageId: string,
  ): Promise<void> {
    const parts = chatMessageToLime(message, this.maxTextLength);
    // Every part is written at once (in order), then all acknowledgements are awaited together.
    const sends = parts.map((part, i) =>
      this.connection.send({
        id: i === 0 ? messageId : stableId(`${messageId}:${i}`),
        to: customer.address,
        ...part,
      }),
    );
    await settleAll(sends);
  }

  async ask(customer: CustomerRef, question: Question, messageId: string): Promise<void> {
    await this.connection.send({
      id: messageId,
      to: customer.address,
      ...questionToLime(customer, question),
    });
  }

  /** `consumed` for each message, TO the customer's address (the FROM they wrote from), with the message's id. */
  async markConsumed(customer: CustomerRef, messageIds: string[]): Promise<void> {
    for (const id of messageIds) {
      this.connection.notify({
        id,
        to: customer.address,
        event: 'consumed',
        metadata: { '#message.to': this.connection.identity },
      });
    }
  }

  async handBack(handback: Handback, messageId: string): Promise<{ address?: string }> {
    const redirect = buildRedirect(handback, this.connection.identity, this.mainService);
    await this.connection.send({ id: messageId, to: handback.conversation.customer.address, ...redirect });
    return { address: this.mainService };
  }

  /** A LIME chat state TO the customer, without an id: BLiP sends no receipt for it, and nothing waits for one. */
  async chatState(customer: CustomerRef, state: ChatState): Promise<void> {
    await this.connection.send({ to: customer.address, type: CHAT_STATE, content: { state } });
  }
}

export const CHAT_STATE = 'application/vnd.lime.chatstate+json';

/** Waits for every send, then fails with the first failure (no rejection is left unobserved). */
async function settleAll(sends: Array<Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(sends);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
