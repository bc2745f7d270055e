import type { DeadLetter, WorkQueue } from './queue';

/** One line per dead letter, for people: no message text (that is in `show`). */
export interface DeadLetterSummary {
  id: string;
  at: string;
  kind: string;
  /** The customer (FROM identity) or ticket lane it belongs to. */
  lane: string;
  /** What it was about: a LIME message id, a vendor event id. */
  subject: string;
  attempts: number;
  code: string;
  reason: string;
}

export function summarise(letter: DeadLetter): DeadLetterSummary {
  const item = letter.work.item;
  const subject =
    item.kind === 'customer-message'
      ? `message ${item.message.id}`
      : item.kind === 'helpdesk-event'
        ? `${item.event.kind} ${item.event.ticket.vendor}#${item.event.ticket.id} (event ${item.event.eventId})`
        : item.kind === 'delivery-failure'
          ? `failed notification for ${item.messageId}`
          : item.kind === 'timer'
            ? `${item.timer} timer of session ${item.sessionId}`
            : `close by an operator (${item.reason})`;
  return {
    id: letter.id,
    at: letter.at,
    kind: item.kind,
    lane: letter.work.lane,
    subject,
    attempts: letter.work.attempts,
    code: letter.code,
    reason: letter.reason,
  };
}

/**
 * The dead-letter commands, shared by the CLI (`npm run bridge -- dlq …`) and the admin HTTP API:
 * list, show one, replay (back to the tail of its lane), drop.
 */
export class DeadLetterAdmin {
  constructor(private readonly queue: WorkQueue) {}

  async list(limit = 1000): Promise<DeadLetterSummary[]> {
    return (await this.queue.deadLetters(limit)).map(summarise);
  }

  async show(id: string): Promise<DeadLetter | undefined> {
    return (await this.queue.deadLetters()).find((l) => l.id === id);
  }

  /** Replays the given letters, or all of them with `all`. Returns the ids replayed. */
  async replay(ids: string[] | 'all'): Promise<{ replayed: string[]; missing: string[] }> {
    const targets = ids === 'all' ? (await this.queue.deadLetters()).map((l) => l.id) : ids;
    const replayed: string[] = [];
    const missing: string[] = [];
    for (const id of targets) ((await this.queue.replay(id)) ? replayed : missing).push(id);
    return { replayed, missing };
  }

  async drop(ids: string[]): Promise<{ dropped: string[]; missing: string[] }> {
    const dropped: string[] = [];
    const missing: string[] = [];
    for (const id of ids) ((await this.queue.drop(id)) ? dropped : missing).push(id);
    return { dropped, missing };
  }
}
