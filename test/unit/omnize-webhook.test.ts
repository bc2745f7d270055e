/**
 * Omnize's triggers, parsed from the fixtures' exact bytes (test/fixtures/omnize/README.md says which shapes are
 * documented and which assumed), and the emulator refusing what the ClientApi would refuse.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RawRequest } from '../../src/adapters/adapter';
import { OmnizeEmulator } from '../../src/adapters/omnize/emulator';
import { UNNAMED_AGENT, OmnizeWebhook } from '../../src/adapters/omnize/webhook';

const webhook = new OmnizeWebhook('a-route-token-0123456789');
const at = new Date('2026-12-07T15:00:00.000Z');
const fixture = (name: string) => readFileSync(path.join(__dirname, '../fixtures/omnize', name));
const request = (body: Buffer | string): RawRequest => ({
  method: 'POST',
  path: '/webhooks/omnize/[redacted]',
  headers: { 'content-type': 'application/json' },
  body: Buffer.isBuffer(body) ? body : Buffer.from(body),
  receivedAt: at,
});
const parse = (name: string) => webhook.parse(request(fixture(name)));
const ticket = { vendor: 'omnize', id: '322e458c-540c-4c11-ab5c-d38d39f57213' };
const base = { ticket, sessionId: '8f0c2a4e1b7d4c55' };

describe('Omnize triggers', () => {
  it('declares route-token verification (Omnize signs nothing)', () => {
    expect(webhook.auth).toEqual({ kind: 'route-token', token: 'a-route-token-0123456789' });
  });

  it('queued, with its position', () => {
    expect(parse('queued.json')).toEqual([
      { ...base, kind: 'ticket.queued', eventId: `queued:${ticket.id}:3`, position: 3 },
    ]);
  });

  it('accepted as documented (no agent) and with the agent (assumption A4)', () => {
    expect(parse('accepted.json')).toEqual([
      { ...base, kind: 'ticket.assigned', eventId: `accepted:${ticket.id}:`, agent: { id: UNNAMED_AGENT } },
    ]);
    expect(parse('accepted-with-agent.json')).toEqual([
      {
        ...base,
        kind: 'ticket.assigned',
        eventId: `accepted:${ticket.id}:112`,
        agent: { id: '112', name: 'Bruno Tavares' },
      },
    ]);
  });

  it('transferred to a department (assumption A5)', () => {
    expect(parse('transferred.json')).toEqual([
      {
        ...base,
        kind: 'ticket.transferred',
        eventId: `transferred:${ticket.id}:2`,
        team: { id: '2', name: 'Financeiro' },
      },
    ]);
  });

  it('unavailable and finished', () => {
    expect(parse('unavailable.json')).toEqual([
      { ...base, kind: 'agent.unavailable', eventId: `unavailable:${ticket.id}` },
    ]);
    expect(parse('finished.json')).toEqual([
      { ...base, kind: 'ticket.closed', eventId: `finished:${ticket.id}`, reason: 'finished' },
    ]);
  });

  it('typing and cleared: chat states, each its own event (typing repeats)', () => {
    expect(parse('typing.json')).toEqual([
      { ...base, kind: 'agent.typing', eventId: `typing:${ticket.id}:${at.getTime()}`, state: 'composing' },
    ]);
    expect(parse('cleared.json')).toEqual([
      { ...base, kind: 'agent.typing', eventId: `cleared:${ticket.id}:${at.getTime()}`, state: 'paused' },
    ]);
    const later = webhook.parse({
      ...request(fixture('typing.json')),
      receivedAt: new Date(at.getTime() + 1),
    });
    expect(later[0]!.eventId).not.toBe(parse('typing.json')[0]!.eventId);
  });

  it("an agent's message, and an agent's file (name and type from its URL)", () => {
    expect(parse('agent-message.json')).toEqual([
      {
        ...base,
        kind: 'agent.message',
        eventId: 'message:3110a5da-87c7-4f6d-a4ab-2b1ed5edfd46',
        agent: { id: '111', name: 'Ana Souza' },
        message: {
          id: '3110a5da-87c7-4f6d-a4ab-2b1ed5edfd46',
          text: 'Olá! Sou a Ana, vou te ajudar com a fatura.',
          at: at.toISOString(),
        },
      },
    ]);
    const [file] = parse('agent-file.json');
    expect(file).toMatchObject({
      kind: 'agent.message',
      message: {
        text: '',
        attachments: [
          {
            url: 'https://omz-files.s3.amazonaws.com/attachments/boleto.pdf',
            mimeType: 'application/pdf',
            name: 'boleto.pdf',
          },
        ],
      },
    });
  });

  it('ignores a state it does not know, and refuses a body that is not a trigger', () => {
    expect(webhook.parse(request('{"interaction_hash":"x","state":"rated","extra":{}}'))).toEqual([]);
    expect(() => webhook.parse(request('not json'))).toThrow(/not JSON/);
    expect(() => webhook.parse(request('{"state":"queued"}'))).toThrow(/interaction_hash/);
  });
});

describe('the Omnize emulator', () => {
  let omnize: OmnizeEmulator;
  beforeAll(async () => {
    omnize = await OmnizeEmulator.start({ token: 'good-token', webhookToken: 'route-token-0123456789' });
  });
  afterAll(() => omnize.stop());

  const post = (url: string, body: unknown) =>
    fetch(`${omnize.url}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('refuses a wrong token, an undocumented field and an unknown department, as the ClientApi would', async () => {
    const good = { token: 'good-token', department_id: 1, customer: { name: 'Ana' } };
    expect((await post('/api/v1/interactions', { ...good, token: 'bad' })).status).toBe(401);
    expect((await post('/api/v1/interactions', { ...good, subject: 'x' })).status).toBe(422);
    expect((await post('/api/v1/interactions', { ...good, department_id: 99 })).status).toBe(422);
    const ok = await post('/api/v1/interactions', good);
    expect(ok.status).toBe(200);
    const { data } = (await ok.json()) as { data: { interaction_hash: string } };
    const messages = `/api/v1/interactions/${data.interaction_hash}/messages`;
    expect((await post(messages, { token: 'good-token', content: 'oi', type: 'sticker' })).status).toBe(422);
    expect((await post(messages, { token: 'good-token', content: 'x', type: 'image' })).status).toBe(422);
    expect((await post(messages, { token: 'good-token', content: 'oi' })).status).toBe(200);
    expect(omnize.tickets()[0]!.customerMessages).toEqual(['oi']);
  });
});
