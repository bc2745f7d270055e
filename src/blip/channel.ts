import { stableId } from '../core/ids';
import type { ChatMessage, ChatState, CustomerRef, Handback } from '../core/model';
import type { CustomerChannel } from '../core/ports';
import type { BlipConnection } from './client';
import { chatMessageToLime } from './content';
import { buildRedirect } from './redirect';

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
