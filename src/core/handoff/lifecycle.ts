import type { ChatMessage, Conversation } from '../model';
import { isOpen, type OfficeHours } from './office-hours';
import type { TimerKind, WorkQueue } from '../work/queue';

/**
 * What bot owners configure about an attendance's life, on top of "open on the first message, hand back on close"
 * (issue 6): the texts the customer reads while waiting, keywords that let the customer end it, the timers that
 * close an idle or unanswered attendance, and the attendance hours.
 */
export interface LifecycleOptions {
  /** Customer texts (trimmed, case-insensitive) that end the attendance from the customer's side. */
  endKeywords: string[];
  /** Sent when the ticket opens ("you are in the queue"); undefined sends nothing. */
  waitingText?: string;
  /** Sent when an agent takes the ticket; `{agent}` is the agent's name. */
  assignedText?: string;
  /** Sent when the ticket moves to another team and the helpdesk names it; `{team}` is the team's name. */
  transferredText?: string;
  /** `{agent}` when the helpdesk does not say the agent's name. */
  unnamedAgent?: string;
  /** The customer silent this long while the agent waits for them: closed as `expired`. */
  inactivity?: { afterMs: number; text?: string };
  /** Nobody picked the attendance up this long after it opened: tell the customer, or hand back (`expired`). */
  noAgent?: { afterMs: number; action: 'message' | 'redirect'; text?: string };
  /**
   * What a helpdesk's own "no agent available" signal does (Omnize `unavailable`; `BRIDGE_NO_AGENT_ACTION`, set even
   * when the timer is off); the timer's `noAgent.action` when absent.
   */
  noAgentAction?: 'message' | 'redirect';
  /** Outside these hours a new attendance is told so, then either opened anyway or handed back (`out_of_hours`). */
  officeHours?: { hours: OfficeHours; action: 'open' | 'redirect'; text?: string };
}

export type TimerPort = Pick<WorkQueue, 'schedule' | 'cancel'>;

/** The decisions of the attendance lifecycle; the handoff's handlers carry them out in the customer's lane. */
export class Lifecycle {
  private readonly keywords: Set<string>;

  constructor(
    readonly options: LifecycleOptions,
    private readonly timers?: TimerPort,
  ) {
    this.keywords = new Set(options.endKeywords.map(normalise).filter(Boolean));
  }

  /** True when the message is one of the keywords that end the attendance. */
  ends(message: ChatMessage): boolean {
    return (
      this.keywords.size > 0 && !message.attachments?.length && this.keywords.has(normalise(message.text))
    );
  }

  /** Whether a new attendance starting at `at` is inside the hours, and what the customer reads when it is not. */
  admits(at: Date): { open: true } | { open: false; text?: string; redirect: boolean } {
    const hours = this.options.officeHours;
    if (!hours || isOpen(hours.hours, at)) return { open: true };
    return { open: false, text: hours.text, redirect: hours.action === 'redirect' };
  }

  /** The ticket opened: start the no-agent timer. */
  async opened(conversation: Conversation, at: Date): Promise<void> {
    const noAgent = this.options.noAgent;
    if (noAgent) await this.arm(conversation, 'no-agent', at.getTime() + noAgent.afterMs);
  }

  /** An agent took the attendance or answered: nobody waits for a pick-up any more. */
  async pickedUp(conversation: Conversation): Promise<void> {
    if (this.options.noAgent) await this.timers?.cancel(timerKey(conversation, 'no-agent'));
  }

  /** The agent answered: the customer's silence starts counting. */
  async agentAnswered(conversation: Conversation, at: Date): Promise<void> {
    await this.pickedUp(conversation);
    const inactivity = this.options.inactivity;
    if (inactivity) await this.arm(conversation, 'inactivity', at.getTime() + inactivity.afterMs);
  }

  /** The customer wrote: they are not idle. */
  async customerWrote(conversation: Conversation): Promise<void> {
    if (this.options.inactivity) await this.timers?.cancel(timerKey(conversation, 'inactivity'));
  }

  /** The attendance ended: no timer of it may fire. */
  async ended(conversation: Conversation): Promise<void> {
    if (this.options.inactivity) await this.timers?.cancel(timerKey(conversation, 'inactivity'));
    if (this.options.noAgent) await this.timers?.cancel(timerKey(conversation, 'no-agent'));
  }

  private async arm(conversation: Conversation, timer: TimerKind, atMs: number): Promise<void> {
    await this.timers?.schedule(
      timerKey(conversation, timer),
      conversation.customer.key,
      { kind: 'timer', customerKey: conversation.customer.key, timer, sessionId: conversation.sessionId },
      atMs,
    );
  }
}

function timerKey(conversation: Conversation, timer: TimerKind): string {
  return `${timer}:${conversation.customer.key}`;
}

function normalise(text: string): string {
  return text.trim().toLowerCase();
}
