import { buildRedirect, REDIRECT_TYPE, TICKET_TYPE } from '../../src/blip/redirect';
import type { ClosedBy, Conversation, Handback } from '../../src/core/model';
import { readJsonFixture } from '../helpers/fixtures';

interface RedirectFixture {
  type: string;
  content: { address?: string; context?: { type: string; value: Record<string, unknown> } };
}
const noAddress = readJsonFixture<RedirectFixture>(
  'fixtures/lime/16-outbound-redirect-to-main-no-address.json',
);
const withAddress = readJsonFixture<RedirectFixture>(
  'fixtures/lime/17-outbound-redirect-with-service-address.json',
);
const deskTicket = readJsonFixture<RedirectFixture>(
  'fixtures/lime/18a-outbound-desk-handback-redirect-ticket.json',
);
const deskTicketFull = readJsonFixture<RedirectFixture>(
  'fixtures/lime/18b-outbound-desk-handback-redirect-ticket-full.json',
);

const BOT = 'acmehelpdesk@msging.net';
const TUNNEL = '8c1e5f7a-3b2d-4e9f-a6c0-5d7b2e9f1a43@tunnel.msging.net';

function conversation(overrides: Partial<Conversation> = {}): Conversation {
  return {
    sessionId: '12bab24e-1a63-4383-9785-47c8abdc2483',
    customer: {
      key: TUNNEL,
      address: TUNNEL,
      originator: '5511987654321@wa.gw.msging.net',
      owner: 'acmerouter@msging.net',
    },
    vendor: 'zendesk',
    status: 'open',
    ticket: { vendor: 'zendesk', id: '48213', requesterId: '30764528193681' },
    openedAt: '2026-11-03T13:58:40.000Z',
    agent: { id: '30764510028417', name: 'Ana Souza' },
    tags: ['blip_bridge', 'whatsapp'],
    ...overrides,
  };
}

function handback(closedBy: ClosedBy = 'agent', c: Conversation = conversation(), reason?: string): Handback {
  return { conversation: c, closedBy, closedAt: '2026-11-03T14:40:02.000Z', ...(reason ? { reason } : {}) };
}

type Content = { address?: string; context: { type: string; value: Record<string, unknown> } };
const contentOf = (h: Handback, mainService?: string): Content =>
  buildRedirect(h, BOT, mainService).content as Content;

describe('buildRedirect', () => {
  it('is a LIME redirect like the fixtures', () => {
    const redirect = buildRedirect(handback(), BOT);
    expect(redirect.type).toBe(REDIRECT_TYPE);
    expect(redirect.type).toBe(noAddress.type);
    expect(redirect.type).toBe(withAddress.type);
  });

  it('has no address when there is no main service, so the router picks its default bot (fixture 16)', () => {
    for (const main of [undefined, '']) {
      const content = contentOf(handback(), main);
      expect(content).not.toHaveProperty('address');
      expect(Object.keys(content)).toEqual(Object.keys(noAddress.content));
    }
  });

  it('carries the service address when one is configured (fixture 17)', () => {
    const content = contentOf(handback(), withAddress.content.address);
    expect(content.address).toBe('principal');
  });

  it('carries the closed ticket as a BLiP Desk ticket context', () => {
    const { context } = contentOf(handback());
    expect(context.type).toBe(TICKET_TYPE);
    expect(context.type).toBe(deskTicket.content.context?.type);
    expect(context.value).toMatchObject({
      id: '12bab24e-1a63-4383-9785-47c8abdc2483',
      sequentialId: 48213,
      ownerIdentity: BOT,
      customerIdentity: TUNNEL,
      customerDomain: 'wa.gw.msging.net',
      status: 'ClosedAttendant',
      openDate: '2026-11-03T13:58:40.000Z',
      closeDate: '2026-11-03T14:40:02.000Z',
      externalId: '48213',
      tags: ['blip_bridge', 'whatsapp'],
    });
    expect(typeof context.value.closedBy).toBe('string');
    expect(context.value.agentIdentity).toMatch(/^[^@/\s]+@[^@/\s]+$/);
    expect(context.value.agentIdentity).toContain('30764510028417');
  });

  it.each([
    ['agent', 'ClosedAttendant'],
    ['customer', 'ClosedClient'],
  ] as const)('uses the Desk status for a close by the %s', (closedBy, status) => {
    const value = contentOf(handback(closedBy)).context.value;
    expect(value.status).toBe(status);
    expect(value.endedBy).toBe(closedBy);
    expect(value.closed).toBe(true);
    // Like Desk, closedBy is an identity: the agent's, or the customer's tunnel identity.
    expect(value.closedBy).toBe(closedBy === 'agent' ? value.agentIdentity : value.customerIdentity);
  });

  it('uses a Desk status name for every way a handoff can end', () => {
    const desk = new Set(['ClosedAttendant', 'ClosedClient', 'ClosedClientInactivity']);
    for (const closedBy of ['agent', 'customer', 'expired', 'out_of_hours'] as const) {
      expect(desk.has(contentOf(handback(closedBy)).context.value.status as string)).toBe(true);
    }
  });

  it('uses the same field names and value types as BLiP Desk (fixtures 18a/18b)', () => {
    const known = conversation({
      team: 'Financeiro',
      priority: 'high',
      firstAgentReplyAt: '2026-11-03T14:01:10.000Z',
      firstAssignedAt: '2026-11-03T14:00:05.000Z',
      transfers: 1,
    });
    const ours = contentOf(handback('agent', known, 'solved')).context.value;
    const desk = deskTicket.content.context!.value;
    const deskFull = deskTicketFull.content.context!.value;
    // Every Desk field the bridge knows, with Desk's type: the sample's fields that mean something outside Desk,
    // and the full ticket's team, priority, first response time, tags and dates.
    for (const [key, sample] of [
      ...[
        'id',
        'sequentialId',
        'ownerIdentity',
        'customerIdentity',
        'agentIdentity',
        'status',
        'storageDate',
        'externalId',
        'unreadMessages',
        'team',
        'rating',
      ].map((k) => [k, desk] as const),
      ...[
        'customerDomain',
        'priority',
        'firstResponseDate',
        'openDate',
        'closeDate',
        'closed',
        'closedBy',
        'tags',
      ].map((k) => [k, deskFull] as const),
    ]) {
      expect(ours).toHaveProperty(key);
      expect(typeof ours[key]).toBe(typeof sample[key]);
      expect(Array.isArray(ours[key])).toBe(Array.isArray(sample[key]));
    }
    // Nothing invented: each field is one of Desk's, with the same type, except our additions (closeReason: the
    // vendor's word for it; endedBy: why the attendance ended; the priority's word, the first assignment time,
    // the agent's name and the transfers count, which Desk has no field for).
    const additions = new Set([
      'closeReason',
      'endedBy',
      'priorityName',
      'firstAssignmentDate',
      'agentName',
      'transfers',
      'survey',
      'locale',
    ]);
    for (const key of Object.keys(ours)) {
      if (additions.has(key)) continue;
      expect(typeof ours[key]).toBe(typeof deskFull[key]);
      expect(Object.keys(deskFull)).toContain(key);
      expect(Array.isArray(ours[key])).toBe(Array.isArray(deskFull[key]));
    }
    expect(ours).toMatchObject({
      closeReason: 'solved',
      team: 'Financeiro',
      priority: 1,
      priorityName: 'high',
      firstResponseDate: '2026-11-03T14:01:10.000Z',
      firstAssignmentDate: '2026-11-03T14:00:05.000Z',
      agentName: 'Ana Souza',
      transfers: 1,
    });
  });

  it("carries the survey's rating in Desk's field (a number, 0 when none), how the survey ended, and the locale", () => {
    const rated = contentOf({
      ...handback('agent', conversation({ locale: 'es' })),
      rating: 4,
      survey: 'answered',
    }).context.value;
    expect(rated).toMatchObject({ rating: 4, survey: 'answered', locale: 'es' });
    expect(typeof rated.rating).toBe(typeof deskTicketFull.content.context!.value.rating);
    const unrated = contentOf({ ...handback('agent'), survey: 'unanswered' }).context.value;
    expect(unrated).toMatchObject({ rating: 0, survey: 'unanswered' });
    expect(unrated).not.toHaveProperty('locale');
    const mainBot = contentOf({ ...handback('customer'), survey: 'main-bot' }).context.value;
    expect(mainBot).toMatchObject({ rating: 0, survey: 'main-bot', endedBy: 'customer' });
    expect(contentOf(handback('expired')).context.value).not.toHaveProperty('survey');
  });

  it('leaves out what the handoff does not know (no team, priority or first response), and counts no transfer', () => {
    const value = contentOf(handback('customer', conversation({ agent: undefined }))).context.value;
    for (const key of [
      'team',
      'priority',
      'priorityName',
      'firstResponseDate',
      'firstAssignmentDate',
      'agentName',
    ]) {
      expect(value).not.toHaveProperty(key);
    }
    expect(value.transfers).toBe(0);
  });

  it('keeps the customer identity (the tunnel) even when the reply address carries an instance', () => {
    const c = conversation({ customer: { key: TUNNEL, address: `${TUNNEL}/instance-1` } });
    const value = contentOf(handback('customer', c)).context.value;
    expect(value.customerIdentity).toBe(TUNNEL);
    expect(value).not.toHaveProperty('customerDomain');
  });

  it('leaves out agentIdentity when no agent is known', () => {
    const value = contentOf(handback('customer', conversation({ agent: undefined }))).context.value;
    expect(value).not.toHaveProperty('agentIdentity');
  });

  it('gives a numeric sequentialId only for a numeric visible ticket number', () => {
    const servicenow = conversation({
      vendor: 'servicenow',
      ticket: { vendor: 'servicenow', id: 'a1b2c3d4e5f6', number: 'INC0010234' },
    });
    expect(contentOf(handback('agent', servicenow)).context.value).not.toHaveProperty('sequentialId');
    const numbered = conversation({ ticket: { vendor: 'x', id: 'abc', number: '77' } });
    expect(contentOf(handback('agent', numbered)).context.value.sequentialId).toBe(77);
    const huge = conversation({ ticket: { vendor: 'x', id: '123456789012345678901234567890' } });
    expect(contentOf(handback('agent', huge)).context.value).not.toHaveProperty('sequentialId');
  });
});
