/**
 * The sandbox LIME server's notification routing checks: which messages it delivered to which bot, whether each
 * notification the bot sends could be routed back by a real BLiP, and who waits for one (waitForNotification).
 */
import { identityOf, type Envelope, type LimeServerOptions } from './lime-types';

/**
 * A notification the bot sent that a real BLiP could not route back: for no message this server delivered to the
 * bot, addressed to someone other than the message's sender, or a `consumed` before its `received`.
 */
export interface NotificationProblem {
  at: Date;
  event: string;
  id?: string;
  problem: string;
}

export class NotificationRouting {
  /** Every notification a real BLiP could not route (see NotificationProblem). */
  readonly problems: NotificationProblem[] = [];
  /** Messages delivered to a bot, by id: to whom, and who sent them (where their notifications must go). */
  private readonly delivered = new Map<string, { bot: string; from: string }>();
  /** Ids whose `received` reached the sender (a `consumed` must come after one). */
  private readonly routedReceived = new Set<string>();
  /** `<event> <message id>` of every notification the bot sent, for waitFor. */
  private readonly notified = new Set<string>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly logger: LimeServerOptions['logger']) {}

  /** Remembers a message handed to a bot, so its notifications can be checked (bounded, oldest forgotten). */
  deliveredTo(bot: string, envelope: Envelope): void {
    if (typeof envelope.id !== 'string' || typeof envelope.from !== 'string') return;
    this.delivered.set(envelope.id, { bot, from: envelope.from });
    if (this.delivered.size > 200_000) {
      const oldest = this.delivered.keys().next().value;
      if (oldest !== undefined) {
        this.delivered.delete(oldest);
        this.routedReceived.delete(oldest);
      }
    }
  }

  /**
   * A real BLiP routes a notification by its `to` and `id`: TO the sender of the message it is about (the tunnel
   * address the customer wrote from), with that message's id. Anything else never reaches the customer's app.
   * `bot` is the identity of the session that sent it.
   */
  check(bot: string | undefined, n: Envelope): void {
    const event = String(n.event);
    if (event === 'accepted' || event === 'dispatched') return; // the server's own words, never the bot's
    const message = typeof n.id === 'string' ? this.delivered.get(n.id) : undefined;
    const problem = !message
      ? 'no message with this id was delivered to the bot'
      : message.bot !== bot
        ? `the message was delivered to ${message.bot}, not to ${String(bot)}`
        : typeof n.to !== 'string' || identityOf(n.to) !== identityOf(message.from)
          ? `addressed to ${String(n.to)}, not to the message's sender ${message.from}`
          : event === 'consumed' && !this.routedReceived.has(String(n.id))
            ? 'consumed before received'
            : undefined;
    if (!problem) {
      if (event === 'received') this.routedReceived.add(String(n.id));
      return;
    }
    this.problems.push({ at: new Date(), event, id: n.id, problem });
    this.logger?.warn('sandbox LIME server: a notification a real BLiP could not route', {
      code: 'SANDBOX_NOTIFICATION_MISROUTED',
      bot,
      event,
      problem,
    });
  }

  /** The bot sent notification `n` (checked already): wakes whoever waits for it. */
  sent(n: Envelope): void {
    const key = `${String(n.event)} ${String(n.id)}`;
    this.notified.add(key);
    for (const wake of this.waiters.get(key) ?? []) wake();
  }

  /** See LimeServer.waitForNotification. */
  waitFor(id: string, event: string, timeoutMs: number): Promise<boolean> {
    const key = `${event} ${id}`;
    if (this.notified.has(key)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiters = this.waiters.get(key) ?? new Set<() => void>();
      this.waiters.set(key, waiters);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.waiters.delete(key);
        resolve(value);
      };
      const wake = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      waiters.add(wake);
    });
  }
}
