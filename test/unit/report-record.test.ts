import { channelOf } from '../../src/reports/channels';
import { TextCipher, talkAad } from '../../src/reports/crypto';
import { applyEvent, talkEntryFor, type ReportEvent } from '../../src/reports/record';
import type { SessionRecord } from '../../src/reports/schema';
import { scriptedEvents } from '../helpers/report-events';

const builder = { teamTagPrefix: 'team_' };
const build = (events: ReportEvent[]): SessionRecord =>
  events.reduce<SessionRecord | undefined>((r, e) => applyEvent(r, e, builder), undefined)!;

const START = '2026-11-03T14:00:00.000Z';

describe('session record builder', () => {
  const script = scriptedEvents({
    sessionId: 's-1',
    start: START,
    vendor: 'servicenow',
    ticketId: '9d385017c611228701d22104cc95c371',
    ticketNumber: 'INC0010234',
    originator: '5511987654321@wa.gw.msging.net',
    owner: 'acmerouter@msging.net',
    name: 'Maria',
    tags: ['blip_bridge', 'team_billing'],
    customerAt: [0, 20, 95],
    customerFiles: 2,
    agent: { id: 'ana.lima', name: 'Ana Lima' },
    assignedAt: 45,
    transferAt: [60, 90],
    agentAt: [75, 130],
    closeAt: 600,
    reason: 'Solved (Permanently)',
  });

  it('computes times and counts from a scripted handoff', () => {
    const r = build(script);
    expect(r).toMatchObject({
      session_id: 's-1',
      protocol: 'INC0010234',
      vendor: 'servicenow',
      ticket_id: '9d385017c611228701d22104cc95c371',
      channel: 'WhatsApp',
      channel_domain: 'wa.gw.msging.net',
      router: 'acmerouter@msging.net',
      customer_identity: '5511987654321@wa.gw.msging.net',
      customer_name: 'Maria',
      team: 'billing',
      agent_id: 'ana.lima',
      agent_name: 'Ana Lima',
      agent_ids: 'ana.lima',
      agent_names: 'Ana Lima',
      status: 'closed',
      created_at: START,
      ticket_opened_at: '2026-11-03T14:00:01.000Z',
      first_agent_reply_at: '2026-11-03T14:01:15.000Z',
      finished_at: '2026-11-03T14:10:00.000Z',
      waiting_seconds: 75,
      handle_seconds: 525,
      total_seconds: 600,
      closed_by: 'agent',
      close_reason: 'Solved (Permanently)',
      tags: 'blip_bridge;team_billing',
      expired: false,
      customer_messages: 3,
      agent_messages: 2,
      automatic_messages: 1,
      attachments: 2,
      delivery_failures: 0,
      handed_back_at: '2026-11-03T14:10:00.500Z',
      last_event_at: '2026-11-03T14:10:00.500Z',
      first_assigned_at: '2026-11-03T14:00:45.000Z',
      transfers: 2,
    });
  });

  it('reaches the same record whatever order the events arrive in (several instances record one session)', () => {
    const inOrder = build(script);
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 25; i++) {
      const shuffled = [...script].sort(() => random() - 0.5);
      expect(build(shuffled)).toEqual(inOrder);
    }
    expect(build([...script].reverse())).toEqual(inOrder);
  });

  it('keeps the ticket number as the protocol when later events carry only the id', () => {
    const events = scriptedEvents({ sessionId: 's-8', start: START, ticketId: 'abc', ticketNumber: 'INC1' });
    const reply: ReportEvent = {
      name: 'agent.message',
      payload: {
        sessionId: 's-8',
        customerKey: 'k',
        ticket: { vendor: 'servicenow', id: 'abc' },
        messageId: 'j1',
        text: '',
        attachments: [],
        at: '2026-11-03T14:05:00.000Z',
      },
    };
    expect(build([...events, reply]).protocol).toBe('INC1');
    expect(build([reply, ...events]).protocol).toBe('INC1');
    expect(build([reply]).protocol).toBe('abc');
  });

  it('shows an open session with no reply yet: no waiting, handle or total time', () => {
    const r = build(scriptedEvents({ sessionId: 's-2', start: START, customerAt: [0, 3] }));
    expect(r).toMatchObject({
      status: 'open',
      first_agent_reply_at: null,
      finished_at: null,
      waiting_seconds: null,
      handle_seconds: null,
      total_seconds: null,
      agent_id: null,
      agent_ids: null,
      customer_messages: 2,
    });
  });

  it('marks a session that ended by inactivity as expired, with its total time and no wait', () => {
    const r = build(
      scriptedEvents({
        sessionId: 's-3',
        start: START,
        closeAt: 1800,
        closedBy: 'expired',
        closingText: false,
      }),
    );
    expect(r).toMatchObject({
      status: 'closed',
      closed_by: 'expired',
      expired: true,
      waiting_seconds: null,
      handle_seconds: null,
      total_seconds: 1800,
      automatic_messages: 0,
    });
  });

  it('lists every agent who took part; the one who closed is the agent of the session', () => {
    const events = scriptedEvents({
      sessionId: 's-4',
      start: START,
      agent: { id: '1', name: 'Ana' },
      assignedAt: 10,
      agentAt: [20],
    });
    const base = { sessionId: 's-4', customerKey: 'k', ticket: { vendor: 'zendesk', id: '48213' } };
    events.push(
      { name: 'ticket.assigned', payload: { ...base, agentId: '2', at: '2026-11-03T14:01:00.000Z' } },
      {
        name: 'agent.message',
        payload: {
          ...base,
          messageId: 'b1',
          agentId: '2',
          agentName: 'Bruno; Jr',
          text: '',
          attachments: [],
          at: '2026-11-03T14:02:00.000Z',
        },
      },
      {
        name: 'ticket.closed',
        payload: {
          ...base,
          closedBy: 'agent',
          agentId: '1',
          agentName: 'Ana',
          at: '2026-11-03T14:03:00.000Z',
        },
      },
      {
        name: 'delivery.failed',
        payload: {
          ...base,
          direction: 'to-customer',
          code: '86',
          reason: 'x',
          at: '2026-11-03T14:03:30.000Z',
        },
      },
    );
    const r = build(events);
    expect(r.agents).toEqual([
      { id: '1', name: 'Ana' },
      { id: '2', name: 'Bruno; Jr' },
    ]);
    expect(r).toMatchObject({
      agent_id: '1',
      agent_name: 'Ana',
      agent_ids: '1;2',
      agent_names: 'Ana;Bruno, Jr',
      delivery_failures: 1,
      last_event_at: '2026-11-03T14:03:30.000Z',
    });
  });

  it('keeps no team without a tag of the prefix, or with the prefix turned off', () => {
    const events = scriptedEvents({ sessionId: 's-5', start: START, tags: ['team_sales'] });
    expect(build(events).team).toBe('sales');
    expect(
      events.reduce<SessionRecord | undefined>((r, e) => applyEvent(r, e, { teamTagPrefix: '' }), undefined)!
        .team,
    ).toBeNull();
    expect(build(scriptedEvents({ sessionId: 's-6', start: START, tags: ['vip'] })).team).toBeNull();
  });
});

describe('talk log entries', () => {
  const events = scriptedEvents({
    sessionId: 's-7',
    start: START,
    customerFiles: 1,
    agent: { id: '9' },
    agentAt: [30],
    closeAt: 60,
    text: (origin, i) => `${origin} secret ${i}`,
  });
  const message = events.find((e) => e.name === 'customer.message')!;

  it('keeps no text or links without a cipher (text storage off)', () => {
    expect(talkEntryFor(message)).toEqual({
      session_id: 's-7',
      entry_id: 'customer:c0',
      at: START,
      origin: 'customer',
      type: 'text/plain',
      detail: null,
      attachments: 1,
      text_enc: null,
      media_enc: null,
    });
    expect(events.map((e) => talkEntryFor(e)?.origin)).toEqual([
      undefined,
      'customer',
      'agent',
      'automatic',
      undefined,
      undefined,
    ]);
  });

  it('encrypts text and links with the cipher, bound to the entry', () => {
    const cipher = new TextCipher(Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 3)));
    const entry = talkEntryFor(message, cipher)!;
    expect(entry.text_enc).not.toContain('secret');
    expect(cipher.decrypt(entry.text_enc!, talkAad('s-7', 'customer:c0', 'text'))).toBe('customer secret 0');
    expect(JSON.parse(cipher.decrypt(entry.media_enc!, talkAad('s-7', 'customer:c0', 'media')))).toEqual([
      { url: 'https://media.example/0.jpg', mimeType: 'image/jpeg' },
    ]);
    expect(() => cipher.decrypt(entry.text_enc!, talkAad('s-7', 'customer:c1', 'text'))).toThrow();
  });
});

describe('channelOf', () => {
  it.each([
    ['5511987654321@wa.gw.msging.net', 'WhatsApp'],
    ['6743219876543210@instagram.gw.msging.net', 'Instagram'],
    ['7248159036482715@messenger.gw.msging.net', 'Messenger'],
    ['4f9d2c7e.acmerouter@0mn.io', 'BLiP Chat'],
    ['123@telegram.gw.msging.net/instance', 'Telegram'],
    ['someone@unknown.example', 'unknown.example'],
  ])('%s is %s', (identity, channel) => {
    expect(channelOf(identity).channel).toBe(channel);
  });

  it('has no channel for a missing or malformed identity', () => {
    expect(channelOf(undefined)).toEqual({ channel: null, domain: null });
    expect(channelOf('no-domain')).toEqual({ channel: null, domain: null });
  });
});
