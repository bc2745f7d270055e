import { parseAnalyticsConfig, type AnalyticsConfig } from '../../src/analytics';
import type { DomainEventMap } from '../../src/core/events';

/** One handoff's domain events, as the handoff's handlers emit them (fixed times and ids). */
export const customerKey = 'e50241bd-5f2c-4a3b-9c1d-2b7e8f9a0c11@tunnel.msging.net';
export const ticket = { vendor: 'zendesk', id: '48213', requesterId: '902' };

export const handoffEvents = {
  started: {
    sessionId: 'sess-1',
    customerKey,
    ticket,
    customer: {
      key: customerKey,
      address: `${customerKey}/default`,
      originator: '5511987654321@wa.gw.msging.net',
      owner: 'acmerouter@msging.net',
      name: 'Maria Souza',
    },
    vendor: 'zendesk',
    openedAt: '2026-11-25T12:00:00.000Z',
    tags: ['blip_bridge'],
    at: '2026-11-25T12:00:01.000Z',
  },
  customerMessage: {
    sessionId: 'sess-1',
    customerKey,
    ticket,
    messageId: 'lime-1',
    contentType: 'text/plain',
    text: 'Oi, meu boleto veio errado',
    attachments: [
      {
        url: 'https://media.example/boleto.pdf',
        mimeType: 'application/pdf',
        name: 'boleto.pdf',
        size: 1234,
      },
    ],
    receivedAt: '2026-11-25T12:00:00.000Z',
    at: '2026-11-25T12:00:01.000Z',
  },
  agentMessage: {
    sessionId: 'sess-1',
    customerKey,
    ticket,
    messageId: 'comment-77',
    agentId: '30764510028417',
    agentName: 'Ana',
    text: 'Olá Maria! Corrigi o boleto.',
    attachments: [],
    at: '2026-11-25T12:00:05.000Z',
  },
  closing: {
    sessionId: 'sess-1',
    customerKey,
    ticket,
    purpose: 'closing',
    messageId: 'closing-msg-1',
    text: 'Seu atendimento foi encerrado.',
    at: '2026-11-25T12:00:09.000Z',
  },
  closed: {
    sessionId: 'sess-1',
    customerKey,
    ticket,
    closedBy: 'agent',
    reason: 'solved',
    agentId: '30764510028417',
    agentName: 'Ana',
    at: '2026-11-25T12:00:09.000Z',
  },
  redirect: { sessionId: 'sess-1', customerKey, ticket, at: '2026-11-25T12:00:10.000Z' },
} satisfies {
  started: DomainEventMap['handoff.started'];
  customerMessage: DomainEventMap['customer.message'];
  agentMessage: DomainEventMap['agent.message'];
  closing: DomainEventMap['automatic.message'];
  closed: DomainEventMap['ticket.closed'];
  redirect: DomainEventMap['redirect.sent'];
};

/** "Now" for the sinks in tests: shortly after the events. */
export const testNow = () => new Date('2026-11-25T12:00:30.000Z');

/** The analytics config for an environment (throws with the problems when invalid). */
export function analyticsConfig(env: Record<string, string>): AnalyticsConfig {
  const { config, problems } = parseAnalyticsConfig(env);
  if (!config) throw new Error(problems.join('\n'));
  return config;
}

/** Retry and breaker settings that keep tests short. */
export const fastTuning = {
  retry: { baseDelayMs: 20, maxDelayMs: 200 },
  breaker: { failureThreshold: 3, cooldownMs: 200, maxCooldownMs: 400 },
  pollMs: 50,
  leaseMs: 2_000,
};
