import { EventEmitter } from 'node:events';
import type { ClosedBy, Conversation, TicketRef } from './model';

/**
 * Domain events: what happened in a handoff. Metrics, the analytics hub and session reports subscribe here.
 * Payloads carry no message text; subscribers that need it get the message id and fetch it on purpose.
 */
export interface DomainEventMap {
  'handoff.started': { sessionId: string; customerKey: string; ticket: TicketRef; at: string };
  'customer.message': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    messageId: string;
    contentType?: string;
    at: string;
  };
  'agent.message': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    messageId: string;
    agentId?: string;
    at: string;
  };
  'ticket.assigned': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    agentId: string;
    at: string;
  };
  'ticket.closed': {
    sessionId: string;
    customerKey: string;
    ticket: TicketRef;
    closedBy: ClosedBy;
    reason?: string;
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
