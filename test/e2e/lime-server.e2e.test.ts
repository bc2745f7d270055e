/**
 * The sandbox LIME server is at least as strict as a real one: a frame a real server cannot deserialize ends the
 * session (`finished`, then the socket closes) with a log line saying why; it never crashes the process that hosts
 * it; and it can fail or finish an established session itself.
 */
import { WebSocket } from 'ws';
import { LimeServer } from '../../sandbox/lime-server';
import { refusalOf } from '../../sandbox/lime-validation';

jest.setTimeout(15_000);

const BOT = 'strictbot';
const KEY = Buffer.from('strict-key').toString('base64');

/** A bare LIME client: one socket, every frame it receives, and the handshake done by hand. */
class RawClient {
  readonly frames: Array<Record<string, unknown>> = [];
  closed: Promise<{ code: number }>;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Record<string, unknown>);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', (code) => resolve({ code })));
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, 'lime');
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async next(predicate: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** new -> authenticating -> established; returns the session id. */
  async establish(key = KEY): Promise<Record<string, unknown>> {
    this.send({ state: 'new' });
    const auth = await this.next((f) => f.state === 'authenticating');
    this.send({
      id: auth.id,
      state: 'authenticating',
      from: `${BOT}@msging.net/default`,
      scheme: 'key',
      authentication: { scheme: 'key', key },
    });
    return this.next((f) => f.state === 'established' || f.state === 'failed');
  }
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('the sandbox LIME server in strict mode', () => {
  let lime: LimeServer;
  beforeEach(async () => {
    lime = await LimeServer.start({ accounts: { [BOT]: KEY } });
  });
  afterEach(() => lime.stop());

  const refused: Array<[string, unknown, RegExp]> = [
    ['a JSON null', null, /not a JSON object \(null\)/],
    ['a number', 42, /not a JSON object/],
    ['an array', [], /not a JSON object/],
    ['no known kind', { id: 'x', to: 'a@b.c' }, /no known kind/],
    ['a numeric id', { id: 7, to: 'a@msging.net', type: 'text/plain', content: 'hi' }, /id must be a string/],
    [
      'a metadata value that is not a string',
      { id: 'm', to: 'a@msging.net', type: 'text/plain', content: 'hi', metadata: { n: 1 } },
      /metadata value "n" must be a string/,
    ],
    ['a message without type', { id: 'm', to: 'a@msging.net', content: 'hi' }, /without type/],
    [
      'text/plain content that is not a string',
      { id: 'm', to: 'a@msging.net', type: 'text/plain', content: { text: 'hi' } },
      /must be a string/,
    ],
    [
      '+json content that is not an object',
      { id: 'm', to: 'a@msging.net', type: 'application/vnd.lime.redirect+json', content: 'x' },
      /must be a JSON object/,
    ],
    [
      'a media type without /',
      { id: 'm', to: 'a@msging.net', type: 'textplain', content: 'hi' },
      /not a media type/,
    ],
    [
      'a command resource without type',
      { id: 'c', method: 'set', uri: '/presence', resource: { status: 'available' } },
      /resource without type/,
    ],
    ['an unknown command method', { id: 'c', method: 'fetch', uri: '/ping' }, /unknown command method/],
    ['a URI that is not lime: or relative', { id: 'c', method: 'get', uri: 'http://x/ping' }, /lime: scheme/],
    [
      'an unknown notification event',
      { id: 'n', to: 'a@msging.net', event: 'seen' },
      /unknown notification event/,
    ],
    [
      'an unknown chat state',
      { to: 'a@msging.net', type: 'application/vnd.lime.chatstate+json', content: { state: 'typing' } },
      /unknown chat state "typing"/,
    ],
    [
      'a chat state with more than its state',
      {
        to: 'a@msging.net',
        type: 'application/vnd.lime.chatstate+json',
        content: { state: 'composing', agent: 'Ana' },
      },
      /only "state"/,
    ],
  ];

  it.each(refused)('ends the session on %s: finished, closed, and logged', async (_what, frame, why) => {
    const client = await RawClient.connect(lime.port);
    expect((await client.establish()).state).toBe('established');
    client.send(frame);
    const finished = await client.next((f) => f.state === 'finished');
    expect(finished.reason).toBeUndefined();
    await client.closed;
    expect(lime.refusals).toHaveLength(1);
    expect(lime.refusals[0]).toMatchObject({ identity: `${BOT}@msging.net` });
    expect(lime.refusals[0]!.reason).toMatch(why);
    expect(lime.connectedBots).toEqual([]);
  });

  it('ends the session on a frame that is not JSON, before or after the session is established', async () => {
    const early = await RawClient.connect(lime.port);
    early.send('{not json');
    await early.next((f) => f.state === 'finished');
    await early.closed;
    expect(lime.refusals[0]!.reason).toMatch(/not JSON/);
  });

  it('takes a command without a resource and without type (the type is only needed with a resource)', async () => {
    const client = await RawClient.connect(lime.port);
    await client.establish();
    client.send({ id: 'c1', method: 'get', uri: '/threads/x@tunnel.msging.net?$take=5' });
    const answer = await client.next((f) => f.id === 'c1');
    expect(answer.status).toBe('success');
    client.send({ id: 'c2', method: 'get', uri: 'lime://tunnel.msging.net/accounts/x' });
    expect((await client.next((f) => f.id === 'c2')).method).toBe('get');
    expect(lime.refusals).toEqual([]);
  });

  it('answers a wrong key the way a real server does', async () => {
    const client = await RawClient.connect(lime.port);
    const failed = await client.establish(Buffer.from('wrong').toString('base64'));
    expect(failed).toMatchObject({
      state: 'failed',
      reason: { code: 1, description: 'The session authentication failed' },
    });
    await client.closed;
  });

  it('records every notification a real BLiP could not route: unknown id, wrong address, consumed before received', async () => {
    const client = await RawClient.connect(lime.port);
    await client.establish();
    const customer = lime.customer('5511987654321@wa.gw.msging.net', `${BOT}@msging.net`);
    const m1 = String(lime.sendFromCustomer(`${BOT}@msging.net`, customer, 'text/plain', 'oi').id);
    const m2 = String(lime.sendFromCustomer(`${BOT}@msging.net`, customer, 'text/plain', 'oi de novo').id);
    await client.next((f) => f.id === m2);
    // As blip-sdk routes them: TO the sender, with the message's id, received first.
    client.send({ id: m1, to: customer.address, event: 'received' });
    client.send({ id: m1, to: customer.address, event: 'consumed' });
    // Misrouted: an id never delivered, another address, consumed before received.
    client.send({ id: 'never-sent', to: customer.address, event: 'received' });
    client.send({ id: m2, to: 'someone@msging.net', event: 'received' });
    client.send({ id: m2, to: customer.address, event: 'consumed' });
    await until(() => lime.notifications.length === 5);
    expect(lime.notificationProblems.map((p) => [p.event, p.id, p.problem])).toEqual([
      ['received', 'never-sent', 'no message with this id was delivered to the bot'],
      [
        'received',
        m2,
        expect.stringMatching(/^addressed to someone@msging.net, not to the message's sender/),
      ],
      ['consumed', m2, 'consumed before received'],
    ]);
    // Recorded, not refused: the session goes on.
    expect(lime.refusals).toEqual([]);
  });

  it('fails or finishes an established session on demand', async () => {
    const a = await RawClient.connect(lime.port);
    await a.establish();
    lime.failSession(`${BOT}@msging.net`, { code: 11, description: 'The session was reset by the server' });
    expect(await a.next((f) => f.state === 'failed')).toMatchObject({
      reason: { code: 11, description: 'The session was reset by the server' },
    });
    await a.closed;

    const b = await RawClient.connect(lime.port);
    await b.establish();
    lime.finishSession(`${BOT}@msging.net`);
    await b.next((f) => f.state === 'finished');
    await b.closed;
  });
});

describe('the strict rules', () => {
  it('take what blip-sdk and the bridge really send', () => {
    for (const frame of [
      { state: 'new' },
      { id: 's', state: 'finishing' },
      {
        id: 'p',
        method: 'set',
        uri: '/presence',
        type: 'application/vnd.lime.presence+json',
        resource: { status: 'available', routingRule: 'identity' },
      },
      { id: 'r', to: 'x@tunnel.msging.net', event: 'received', metadata: { '#message.uniqueId': null } },
      { id: 'm', to: 'x@tunnel.msging.net', type: 'text/plain', content: 'olá' },
      { id: 'd', to: 'x@tunnel.msging.net', type: 'application/vnd.lime.redirect+json', content: {} },
      {
        to: 'x@tunnel.msging.net',
        type: 'application/vnd.lime.chatstate+json',
        content: { state: 'composing' },
      },
      {
        id: 'ping',
        to: 'postmaster@msging.net/x',
        method: 'get',
        status: 'success',
        type: 'application/vnd.lime.ping+json',
        resource: {},
      },
    ]) {
      expect(refusalOf(frame)).toBeUndefined();
    }
  });
});
