import type { ClosedBy, Conversation } from '../model';
import type { TimerPort } from './lifecycle';

/**
 * The satisfaction survey (issue 20 item 3), as BLiP Desk does it. `bridge`: after a close by the agent or by the
 * customer the bridge asks a 1–5 rating, then hands back with it; `main-bot`: the bridge asks nothing and the
 * Redirect context tells the main bot to run its own survey (`survey: "main-bot"`); `off`: neither.
 */
export interface SurveyOptions {
  mode: 'off' | 'bridge' | 'main-bot';
  /** How long the customer has to answer before the hand-back goes without a rating. */
  timeoutMs: number;
}

/**
 * Closes after which a survey makes sense: someone served the customer and the customer is there to answer. Not
 * after `expired` (the customer went silent, or nobody picked the attendance up) nor `out_of_hours` (no attendance).
 */
const SURVEYED: ReadonlySet<ClosedBy> = new Set<ClosedBy>(['agent', 'customer']);

/** The survey's decisions and its timer (in the work queue: durable, fires once across instances). */
export class Survey {
  constructor(
    readonly options: SurveyOptions,
    private readonly timers?: TimerPort,
  ) {}

  /** The bridge asks the customer for a rating after this close. */
  asks(closedBy: ClosedBy): boolean {
    return this.options.mode === 'bridge' && SURVEYED.has(closedBy);
  }

  /** The main bot is told to run its own survey after this close. */
  leavesToMainBot(closedBy: ClosedBy): boolean {
    return this.options.mode === 'main-bot' && SURVEYED.has(closedBy);
  }

  async arm(conversation: Conversation, at: Date): Promise<void> {
    await this.timers?.schedule(
      timerKey(conversation),
      conversation.customer.key,
      {
        kind: 'timer',
        customerKey: conversation.customer.key,
        timer: 'survey',
        sessionId: conversation.sessionId,
      },
      at.getTime() + this.options.timeoutMs,
    );
  }

  async cancel(conversation: Conversation): Promise<void> {
    await this.timers?.cancel(timerKey(conversation));
  }
}

function timerKey(conversation: Conversation): string {
  return `survey:${conversation.customer.key}`;
}
