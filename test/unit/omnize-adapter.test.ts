/**
 * The Omnize adapter against its emulator: what an interaction opens with (customer, department, extra, the bot
 * conversation as external_history or, without a public URL, as a first message), and the two-call open that
 * finishes the interaction it opened when the first message fails (docs/adding-an-adapter.md, "Vendors that open
 * with two calls").
 */
import {
  PermanentError,
  RetryableError,
  type MediaFile,
  type OpenTicketRequest,
} from '../../src/adapters/adapter';
import { omnizeConfigSchema } from '../../src/adapters/omnize/config';
import { OmnizeEmulator } from '../../src/adapters/omnize/emulator';
import { OmnizeAdapter } from '../../src/adapters/omnize';
import { runBridgeCli } from '../../src/cli/bridge';
import { listen, serverUrl, closeServer } from '../../sandbox/emulator-kit';
import express from 'express';
import type { Server } from 'node:http';

let omnize: OmnizeEmulator;
let files: Server;
const served = new Map<string, MediaFile>();

beforeAll(async () => {
  omnize = await OmnizeEmulator.start({ token: 'sdk-token', webhookToken: 'route-token-0123456789' });
  const app = express();
  app.get('/media/:id', (req, res) => {
    const file = served.get(req.params.id);
    if (!file) return res.status(404).end();
    res.type(file.mimeType).send(file.data);
  });
  files = await listen(app);
});
afterAll(async () => {
  await omnize.stop();
  await closeServer(files);
});

/** A stand-in for the bridge's media host: keeps the file, serves it at a URL. */
const publish = (id: string, file: MediaFile) => {
  served.set(id, file);
  return Promise.resolve(`${serverUrl(files)}/media/${id}`);
};

function adapter(withPublish: boolean): OmnizeAdapter {
  const config = omnizeConfigSchema.parse({
    ...omnize.bridgeEnv(),
    OMNIZE_DEPARTMENTS: 'financeiro:2',
  });
  return new OmnizeAdapter(config, undefined, withPublish ? publish : undefined);
}

let n = 0;
function request(over: Partial<OpenTicketRequest> = {}): OpenTicketRequest {
  n++;
  return {
    customer: {
      key: `c${n}@tunnel.msging.net`,
      address: `c${n}@tunnel.msging.net/x`,
      originator: `55119000000${String(n).padStart(2, '0')}@wa.gw.msging.net`,
    },
    sessionId: `session-${n}`,
    subject: 'WhatsApp',
    tags: [],
    first: { id: `m${n}`, text: 'Quero falar com alguém', at: '2026-12-07T15:00:00.000Z' },
    contact: {
      name: 'Maria Oliveira',
      email: 'maria@example.com.br',
      phone: '+5511987654321',
      extras: { cpf: '123' },
    },
    fields: { team: 'financeiro' },
    history: [
      { id: 'h1', at: '2026-12-07T14:59:00.000Z', from: 'customer', text: 'Oi' },
      { id: 'h2', at: '2026-12-07T14:59:01.500Z', from: 'bot', text: 'Olá! Vou te transferir.' },
    ],
    ...over,
  };
}

describe('the Omnize adapter', () => {
  it('opens with the customer, the mapped department, extra, and the history at a URL Omnize reads', async () => {
    const req = request();
    const ticket = await adapter(true).openTicket(req, 'open:x');
    const interaction = omnize.interactions.get(ticket.id)!;
    expect(interaction.request).toEqual({
      token: 'sdk-token',
      department_id: 2,
      media_type: 'WHATSAPP',
      customer: { name: 'Maria Oliveira', email: 'maria@example.com.br', phone: '5511987654321', cpf: '123' },
      extra: { bridge_session: req.sessionId, bridge_customer: req.customer.originator },
      external_history: expect.stringMatching(/\/media\/omz-h-[0-9a-f]{32}$/),
    });
    const history = await omnize.waitFor(() => interaction.history, 5_000, 'the history');
    expect(history).toEqual({
      messages: [
        { time: '2026-12-07 14:59:00', direction: 'CLIENT', content: 'Oi' },
        { time: '2026-12-07 14:59:01', direction: 'AGENT', content: 'Olá! Vou te transferir.' },
      ],
    });
    expect(interaction.messages.map((m) => m.content)).toEqual(['Quero falar com alguém']);
  });

  it('without a public URL: the history as the first text, the phone from the originator, the default department', async () => {
    const req = request({ contact: undefined, fields: undefined });
    const ticket = await adapter(false).openTicket(req, 'open:x');
    const interaction = omnize.interactions.get(ticket.id)!;
    expect(interaction.request.department_id).toBe(1);
    expect(interaction.request.customer).toEqual({
      name: req.customer.originator,
      phone: req.customer.originator!.split('@')[0],
    });
    expect(interaction.request.external_history).toBeUndefined();
    expect(interaction.messages.map((m) => m.content)).toEqual([
      'Conversa com o bot:\nCliente: Oi\nBot: Olá! Vou te transferir.',
      'Quero falar com alguém',
    ]);
  });

  it('opens anyway when the bridge cannot serve the history: the history goes as the first text', async () => {
    const config = omnizeConfigSchema.parse(omnize.bridgeEnv());
    const refusing = () => Promise.reject(new PermanentError('media file too large', 'MEDIA_TOO_LARGE'));
    const ticket = await new OmnizeAdapter(config, undefined, refusing).openTicket(request(), 'open:x');
    const interaction = omnize.interactions.get(ticket.id)!;
    expect(interaction.request.external_history).toBeUndefined();
    expect(interaction.messages.map((m) => m.content)).toEqual([
      'Conversa com o bot:\nCliente: Oi\nBot: Olá! Vou te transferir.',
      'Quero falar com alguém',
    ]);
  });

  it('finishes the interaction it opened when the first message fails, then throws for the retry', async () => {
    const req = request({
      history: undefined,
      first: {
        id: 'photo',
        text: 'Foto',
        at: '2026-12-07T15:00:00.000Z',
        // A file Omnize cannot read: the message call fails (HTTP 500) after the interaction was created.
        attachments: [
          { url: 'https://blip/x.jpg', mimeType: 'image/jpeg', uploadRef: 'http://127.0.0.1:1/gone.jpg' },
        ],
      },
    });
    const before = omnize.interactions.size;
    await expect(adapter(true).openTicket(req, 'open:x')).rejects.toBeInstanceOf(RetryableError);
    const opened = [...omnize.interactions.values()].slice(before);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.state).toBe('finished');
    expect(omnize.apiCalls().at(-1)).toMatchObject({
      method: 'PUT',
      path: `/api/v1/interactions/${opened[0]!.hash}/finish`,
    });
  });
});

describe('setup omnize', () => {
  async function cli(env: Record<string, string>) {
    const lines: string[] = [];
    const code = await runBridgeCli(
      ['setup', 'omnize'],
      env,
      (l) => lines.push(l),
      () => {},
    );
    return { code, out: lines.join('\n') };
  }

  it('prints the webhook URL with its token, and checks the token and the departments', async () => {
    const env = {
      ...omnize.bridgeEnv(),
      BRIDGE_PUBLIC_URL: 'https://bridge.acme.example',
      OMNIZE_DEPARTMENTS: 'financeiro:2',
    };
    const ok = await cli(env);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(
      'Webhook URL:  https://bridge.acme.example/webhooks/omnize/route-token-0123456789',
    );
    expect(ok.out).toMatch(/OK\s+ClientSDK token\s+2 department\(s\)/);
    expect(ok.out).toMatch(/OK\s+department 2\s+Financeiro/);
    const unknown = await cli({ ...env, OMNIZE_DEPARTMENTS: 'financeiro:9' });
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/FAIL\s+department 9\s+not a department of this account/);
    const wrong = await cli({ ...env, OMNIZE_TOKEN: 'not-the-token' });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/FAIL\s+ClientSDK token\s+.*401/);
  });
});

describe('the customer typing (issue 20.2): the ClientApi typing / cleared notifications', () => {
  it('sends PUT .../typing for composing and PUT .../cleared for paused, the token only in the body', async () => {
    const a = adapter(false);
    const ticket = await a.openTicket(request({ history: [] }), 'open:typing');
    const from = omnize.requests.length;
    await a.customerTyping(ticket, 'composing');
    await a.customerTyping(ticket, 'paused');
    const interaction = omnize.interactions.get(ticket.id)!;
    expect(interaction.clientTypingLog).toEqual(['typing', 'cleared']);
    expect(interaction.clientTyping).toBe('cleared');
    expect(omnize.requests.slice(from).map((r) => [r.method, r.path, r.body, r.status])).toEqual([
      ['PUT', `/api/v1/interactions/${ticket.id}/typing`, { token: 'sdk-token' }, 200],
      ['PUT', `/api/v1/interactions/${ticket.id}/cleared`, { token: 'sdk-token' }, 200],
    ]);
  });

  it('fails (for the core to drop) on a finished or unknown interaction', async () => {
    const a = adapter(false);
    const ticket = await a.openTicket(request({ history: [] }), 'open:typing-finished');
    await a.closeTicket(ticket, 'customer');
    await expect(a.customerTyping(ticket, 'composing')).rejects.toBeInstanceOf(PermanentError);
    await expect(
      a.customerTyping({ vendor: 'omnize', id: 'no-such-hash' }, 'composing'),
    ).rejects.toBeInstanceOf(PermanentError);
    expect(omnize.interactions.get(ticket.id)!.clientTypingLog).toEqual([]);
  });
});
