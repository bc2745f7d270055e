/**
 * What the bot sends through the sandbox LIME server: its messages (recorded, then acknowledged with `accepted`,
 * or answered `failed`, or lost by a dying socket) and its chat states (kept apart), and the waits for them.
 */
import type { EventEmitter } from 'node:events';
import type { LimeDirectory } from './lime-directory';
import type { LimeSessions, Session } from './lime-sessions';
import type { Envelope, SentByBot } from './lime-types';

export interface BotMessagesContext {
  /** The server's own node, the author of `accepted`. */
  serverNode: string;
  /** Where `sent` and `chatstate` are emitted and waited for (the LimeServer). */
  events: EventEmitter;
  sessions: LimeSessions;
  directory: LimeDirectory;
}

export class BotMessages {
  /** Every message the bot sent, in order. */
  readonly sent: SentByBot[] = [];
  /** Every chat state the bot sent, kept apart from `sent`. */
  readonly chatStates: SentByBot[] = [];
  /** Whether the server acknowledges each message the bot sends with `accepted` (BLiP does). */
  acknowledging = true;
  /** Whether WebSocket pings are answered (a dying socket answers nothing). */
  ponging = true;
  /** Messages still to lose (neither recorded nor acknowledged), then the connection drops: a dying socket. */
  toLose = 0;
  /** Between the last lost message and the drop: the socket is dead, nothing is answered. */
  private dying = false;
  private readonly failingDeliveries = new Map<string, { code: number; description: string }>();

  constructor(private readonly context: BotMessagesContext) {}

  /** Whether a WebSocket ping is answered now. */
  answersPing(): boolean {
    return this.ponging && this.toLose === 0 && !this.dying;
  }

  /** From now on, messages to `address` are answered with a `failed` notification. */
  failDeliveriesTo(address: string, code: number, description: string): void {
    this.failingDeliveries.set(address, { code, description });
  }

  /** A chat state the bot sent. */
  chatState(envelope: Envelope & { to: string }): void {
    const state: SentByBot = { at: new Date(), envelope: envelope as SentByBot['envelope'] };
    this.chatStates.push(state);
    this.context.events.emit('chatstate', state);
  }

  /** A message the bot sent: recorded and acknowledged (or lost, or failed, as the test set it up). */
  message(session: Session, envelope: Envelope & { to: string }): void {
    if (this.toLose > 0) {
      if (--this.toLose === 0) {
        this.dying = true;
        setTimeout(() => {
          this.dying = false;
          this.context.sessions.terminateAll();
        }, 20);
      }
      return;
    }
    const sent: SentByBot = { at: new Date(), envelope: envelope as SentByBot['envelope'] };
    this.sent.push(sent);
    this.context.events.emit('sent', sent);
    this.context.directory.recordFromBot(envelope, sent.at);
    const failure = this.failingDeliveries.get(envelope.to);
    if (failure && envelope.id) {
      this.context.sessions.reply(session, {
        id: envelope.id,
        from: envelope.to,
        to: session.identity,
        event: 'failed',
        reason: failure,
      });
    } else if (this.acknowledging && envelope.id) {
      // BLiP's server acknowledges every message with an id it took (the bot asked for it in `set /receipt`).
      this.context.sessions.reply(session, {
        id: envelope.id,
        from: this.context.serverNode,
        to: session.node,
        event: 'accepted',
      });
    }
  }

  /** Resolves with the first of `list` (past or future, emitted as `event`) that matches; rejects after `timeoutMs`. */
  waitIn(
    list: SentByBot[],
    event: 'sent' | 'chatstate',
    predicate: (s: SentByBot) => boolean,
    timeoutMs: number,
    description: string,
  ): Promise<SentByBot> {
    const found = list.find(predicate);
    if (found) return Promise.resolve(found);
    const events = this.context.events;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        events.off(event, listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`));
      }, timeoutMs);
      const listener = (s: SentByBot): void => {
        if (!predicate(s)) return;
        clearTimeout(timer);
        events.off(event, listener);
        resolve(s);
      };
      events.on(event, listener);
    });
  }
}
