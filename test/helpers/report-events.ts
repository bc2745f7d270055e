import type { ClosedBy } from '../../src/core/model';
import type { ReportEvent } from '../../src/reports/record';

/** Scripted domain events of one handoff, for the reports' tests. Times are offsets in seconds from `start`. */
export interface ScriptedSession {
  sessionId: string;
  start: string;
  vendor?: string;
  ticketId?: string;
  ticketNumber?: string;
  originator?: string;
  owner?: string;
  name?: string;
  tags?: string[];
  /** Seconds after start at which the customer writes (the first one opens the ticket). */
  customerAt?: number[];
  /** Attachments on the customer's first message. */
  customerFiles?: number;
  agent?: { id: string; name?: string };
  /** Seconds after start of the agent's replies. */
  agentAt?: number[];
  assignedAt?: number;
  /** Seconds after start of each move to another team (`ticket.transferred`). */
  transferAt?: number[];
  /** Seconds after start of the close; undefined = still open. */
  closeAt?: number;
  closedBy?: ClosedBy;
  reason?: string;
  closingText?: boolean;
  text?: (origin: string, i: number) => string;
  /** The customer's locale (on `handoff.started`). */
  locale?: string;
  /** The survey after the close: its rating, or how it ended without one (`survey.ended`, right after the close). */
  survey?: { rating: number } | { outcome: 'unanswered' | 'invalid' | 'interrupted' };
}

export function at(start: string, seconds: number): string {
  return new Date(Date.parse(start) + seconds * 1000).toISOString();
}

export function scriptedEvents(s: ScriptedSession): ReportEvent[] {
  const t = (sec: number) => at(s.start, sec);
  const ticket = { vendor: s.vendor ?? 'zendesk', id: s.ticketId ?? '48213', number: s.ticketNumber };
  const customerKey = `${s.sessionId.slice(0, 8)}@tunnel.msging.net`;
  const base = { sessionId: s.sessionId, customerKey };
  const text = s.text ?? ((origin: string, i: number) => `${origin} message ${i}`);
  const customerAt = s.customerAt ?? [0];
  const events: ReportEvent[] = [
    {
      name: 'handoff.started',
      payload: {
        ...base,
        ticket,
        customer: {
          key: customerKey,
          address: `${customerKey}/default`,
          originator: s.originator ?? '5511987654321@wa.gw.msging.net',
          owner: s.owner ?? 'acmerouter@msging.net',
          name: s.name,
        },
        vendor: ticket.vendor,
        openedAt: t(customerAt[0]!),
        tags: s.tags ?? ['blip_bridge'],
        ...(s.locale ? { locale: s.locale } : {}),
        at: t(customerAt[0]! + 1),
      },
    },
  ];
  customerAt.forEach((sec, i) =>
    events.push({
      name: 'customer.message',
      payload: {
        ...base,
        ticket,
        messageId: `c${i}`,
        contentType: 'text/plain',
        text: text('customer', i),
        attachments:
          i === 0
            ? Array.from({ length: s.customerFiles ?? 0 }, (_, k) => ({
                url: `https://media.example/${k}.jpg`,
                mimeType: 'image/jpeg',
              }))
            : [],
        receivedAt: t(sec),
        at: t(sec + 1),
      },
    }),
  );
  if (s.assignedAt !== undefined && s.agent)
    events.push({
      name: 'ticket.assigned',
      payload: { ...base, ticket, agentId: s.agent.id, agentName: s.agent.name, at: t(s.assignedAt) },
    });
  (s.transferAt ?? []).forEach((sec, i) =>
    events.push({
      name: 'ticket.transferred',
      payload: {
        ...base,
        ticket,
        teamId: `g-${i + 1}`,
        teamName: `Team ${i + 1}`,
        transfers: i + 1,
        at: t(sec),
      },
    }),
  );
  (s.agentAt ?? []).forEach((sec, i) =>
    events.push({
      name: 'agent.message',
      payload: {
        ...base,
        ticket,
        messageId: `a${i}`,
        agentId: s.agent?.id,
        agentName: s.agent?.name,
        text: text('agent', i),
        attachments: [],
        at: t(sec),
      },
    }),
  );
  if (s.closeAt !== undefined) {
    if (s.closingText !== false)
      events.push({
        name: 'automatic.message',
        payload: {
          ...base,
          ticket,
          purpose: 'closing',
          messageId: `closing:${base.sessionId}`,
          text: 'Bye!',
          at: t(s.closeAt),
        },
      });
    events.push({
      name: 'ticket.closed',
      payload: {
        ...base,
        ticket,
        closedBy: s.closedBy ?? 'agent',
        reason: s.reason,
        agentId: s.closedBy === 'agent' || !s.closedBy ? s.agent?.id : undefined,
        agentName: s.closedBy === 'agent' || !s.closedBy ? s.agent?.name : undefined,
        at: t(s.closeAt),
      },
    });
    if (s.survey)
      events.push({
        name: 'survey.ended',
        payload: {
          ...base,
          ticket,
          ...('rating' in s.survey ? { outcome: 'answered', rating: s.survey.rating } : s.survey),
          at: t(s.closeAt + 0.3),
        },
      });
    events.push({ name: 'redirect.sent', payload: { ...base, ticket, at: t(s.closeAt + 0.5) } });
  }
  return events;
}
