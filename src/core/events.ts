import { EventEmitter } from 'node:events';
import type { Attachment, ClosedBy, Conversation, CustomerRef, SurveyOutcome, TicketRef } from './model';

/**
 * Domain events: what happened in a handoff. Metrics, the analytics hub and session reports subscribe here.
 * They stay in the process. Message events carry the text and attachment links because the analytics sinks and
 * the talk log need them: a subscriber decides what it keeps (privacy options) and never logs the text at info.
 */
export interface DomainEventMap {
  'handoff.started': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    /** Who the customer is (address, tunnel originator and owner, name): channel and router for reports. */
    customer: CustomerRef;
    vendor: string;
    /** When the conversation started waiting for the helpdesk (the first message); `at` is when the ticket opened. */
    openedAt: string;
    tags: string[];
    /** The team / group / queue the ticket went to (`BRIDGE_TEAM` or the Redirect context's `team`). */
    team?: string;
    /** True when the handoff reopened the customer's previous ticket (reopen policy) instead of opening one. */
    reopened?: boolean;
    /** The locale of the customer's texts in this handoff (`Conversation.locale`), when one was chosen. */
    locale?: string;
    at: string;
  };
  'customer.message': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    messageId: string;
    contentType?: string;
    text: string;
    attachments: AttachmentLink[];
    /** When the bridge received it from BLiP; `at` is when the helpdesk had it. */
    receivedAt: string;
    at: string;
  };
  'agent.message': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    messageId: string;
    agentId?: string;
    agentName?: string;
    text: string;
    attachments: AttachmentLink[];
    at: string;
  };
  /** A message the bridge itself sent the customer (closing text, waiting notices): "automatic" in reports. */
  'automatic.message': {
    sessionId: string;
    customerKey: string;
    ticket?: TicketRef;
    /**
     * What it was: `closing`, `waiting`, `assigned`, `transferred`, `no_agent`, `inactivity`, `out_of_hours`;
     * the survey's `survey` (the question, as its text fallback), `survey_invalid`, `survey_thanks`.
     */
    purpose: string;
    /** The LIME message id it was sent with (stable: the same on a retry). */
    messageId: string;
    text: string;
    at: string;
  };
  'ticket.assigned': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    agentId: string;
    agentName?: string;
    /** True for the handoff's first assignment (reports: the first assignment time). */
    first?: boolean;
    at: string;
  };
  /** The ticket moved to another team / group / assignment group. */
  'ticket.transferred': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    teamId: string;
    teamName?: string;
    /** The team it was in before, when known (the configured team, or the previous transfer's). */
    previousTeam?: string;
    /** Transfers of this handoff so far, this one included. */
    transfers: number;
    at: string;
  };
  'ticket.closed': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    closedBy: ClosedBy;
    reason?: string;
    agentId?: string;
    agentName?: string;
    /** The locale of the customer's texts in this handoff, when one was chosen. */
    locale?: string;
    at: string;
  };
  /**
   * The satisfaction survey after the close ended (`BRIDGE_SURVEY=bridge`): rated (`rating` 1–5), or not
   * (`unanswered`: timed out; `invalid`: two answers that were no rating; `interrupted`: a message that was no answer).
   */
  'survey.ended': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    outcome: Exclude<SurveyOutcome, 'main-bot'>;
    rating?: number;
    locale?: string;
    at: string;
  };
  'redirect.sent': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    address?: string;
    at: string;
  };
  'delivery.failed': {
    sessionId?: string;
    customerKey: string;
    ticket?: TicketRef;
    direction: 'to-customer' | 'to-helpdesk';
    messageId?: string;
    code: string;
    reason: string;
    at: string;
  };
  /** A unit of work that failed for good and was put in the dead-letter list (see `npm run bridge -- dlq`). */
  'work.dead-lettered': {
    customerKey?: string;
    sessionId?: string;
    /** `customer-message` or `helpdesk-event`. */
    kind: string;
    deadLetterId: string;
    code: string;
    reason: string;
    attempts: number;
    at: string;
  };
}

/** A file in a message event: its link and type, never its bytes. */
export interface AttachmentLink {
  url: string;
  mimeType: string;
  name?: string;
  size?: number;
}

export type DomainEventName = keyof DomainEventMap;

export class DomainEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (event: DomainEventName, err: unknown) => void = () => {}) {
    this.emitter.setMaxListeners(50);
  }

  on<E extends DomainEventName>(
    event: E,
    listener: (payload: DomainEventMap[E]) => void | Promise<void>,
  ): () => void {
    const wrapped = (payload: DomainEventMap[E]): void => {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((err: unknown) => this.onListenerError(event, err));
      } catch (err) {
        // A subscriber's bug must never break a handoff.
        this.onListenerError(event, err);
      }
    };
    this.emitter.on(event, wrapped);
    return () => this.emitter.off(event, wrapped);
  }

  emit<E extends DomainEventName>(event: E, payload: DomainEventMap[E]): void {
    this.emitter.emit(event, payload);
  }
}

export function conversationEventBase(c: Conversation): { sessionId: string; customerKey: string } {
  return { sessionId: c.sessionId, customerKey: c.customer.key };
}

export function attachmentLinks(attachments: Attachment[] | undefined): AttachmentLink[] {
  return (attachments ?? []).map(({ url, mimeType, name, size }) => ({ url, mimeType, name, size }));
}
