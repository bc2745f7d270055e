/**
 * Bad input through the real edges (issue 5): random and mutated webhook bodies, correctly signed, on each vendor's
 * route, and random frames on the LIME session. The bridge answers 200/400 (never 5xx), does not crash, and the
 * customer being served meanwhile is not affected.
 */
import fc from 'fast-check';
import { type VendorName, vendorNames } from '../../src/adapters/registry';
import { testKit } from '../../sandbox/emulators';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { openFirstTicket } from '../helpers/first-ticket';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { readJsonFixture } from '../helpers/fixtures';

jest.setTimeout(120_000);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path into a JSON value (the root included). */
function paths(value: Json, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

/** The sample with the value at one path replaced (or removed). */
function mutate(sample: Json, pick: number, replacement: Json | undefined): Json {
  const all = paths(sample);
  const target = all[pick % all.length]!;
  if (target.length === 0) return replacement ?? null;
  const copy = structuredClone(sample);
  let node = copy as Record<string | number, Json>;
  for (const step of target.slice(0, -1)) node = node[step] as Record<string | number, Json>;
  const last = target[target.length - 1]!;
  if (replacement === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = replacement;
  return copy;
}

const body = (sample: Json) =>
  fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc
      .tuple(fc.nat(), fc.option(fc.jsonValue() as fc.Arbitrary<Json>, { nil: undefined }))
      .map(([pick, replacement]) => JSON.stringify(mutate(sample, pick, replacement))),
    fc.string().map((s) => `{"broken": ${s}`),
  );

/** Pieces of what the hostile-input campaign sent (issue 17): markup, ServiceNow code tags, entities, line breaks. */
const HOSTILE_PIECES = [
  '<a href="https://evil.example/login">',
  '</a>',
  '<img src=https://t.example/p.gif onerror=alert(1)>',
  '<script>alert(document.cookie)</script>',
  '<p>',
  '<br>',
  '[code]',
  '[/code]',
  '[ CODE ]',
  '[/ Code ]',
  '&lt;',
  '&amp;',
  '&#60;',
  '"',
  "'",
  '\n',
  '\n\n',
  ' ',
  'texto',
  'ção',
];

/** A customer text built from those pieces (with words at both ends: blank edges are a separate matter). */
const hostileText = fc
  .array(fc.constantFrom(...HOSTILE_PIECES), { minLength: 1, maxLength: 12 })
  .map((pieces) => `a ${pieces.join('')} z`);

// Every vendor in the registry, each with its own sample and markup rules (its test kit: src/adapters/<v>/emulator.ts).
describe.each(vendorNames)('fuzzing the %s edges', (vendor) => {
  let sandbox: Sandbox<VendorName>;
  let logs: CapturedLogs;

  beforeAll(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ vendor, logger: logs.logger });
  });
  afterAll(async () => {
    await sandbox.stop();
  });

  // 401 too: Intercom signs a timestamp inside the body, so a body that does not parse cannot pass the replay check.
  it('answers every signed but malformed webhook with 200, 400 or 401, and keeps serving the customer', async () => {
    const { customer: ana, ticket } = await openFirstTicket(sandbox, '5511944440001@wa.gw.msging.net', 'oi', {
      timeoutMs: 15_000,
    });

    // Mutations of a fresh, real event body (its signed timestamp is current) reach the parser; the fixture's
    // shape is the same but its time is outside the replay window.
    const sample = JSON.parse(sandbox.helpdesk.agentReplyBodyForUnknownTicket('fuzz')) as Json;
    expect(Object.keys(sample as object).sort()).toEqual(
      Object.keys(readJsonFixture<object>(testKit(vendor).fuzzSample)).sort(),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body(sample), async (raw) => {
        const delivery = await sandbox.helpdesk.deliverRaw(raw, sandbox.helpdesk.signedHeaders(raw));
        statuses.set(delivery.status, (statuses.get(delivery.status) ?? 0) + 1);
        return [200, 400, 401].includes(delivery.status);
      }),
      { numRuns: 150 },
    );
    // Many bodies got past the signature and the replay window, and the parser refused the bad ones.
    expect((statuses.get(200) ?? 0) + (statuses.get(400) ?? 0)).toBeGreaterThanOrEqual(20);
    expect(statuses.get(400)).toBeGreaterThan(0);

    // The customer in attendance is unaffected: the agent's reply and the customer's next message both arrive.
    await sandbox.helpdesk.agentReply(ticket.id, 'still here');
    await sandbox.lime.waitForSent(
      (s) => s.envelope.to === ana.address && s.envelope.content === 'still here',
      15_000,
      'the agent reply after the fuzzing',
    );
    sandbox.say(ana, 'ok, thanks');
    await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets()[0]?.customerMessages.includes('ok, thanks'),
      15_000,
      'the customer message after the fuzzing',
    );
    expect(logs.lines().filter((l) => l.level === 'error' && l.code === 'UNCAUGHT')).toEqual([]);
  });

  it('never writes a customer text into the helpdesk as markup, and the agent reads the text (issue 17.7, 17.8)', async () => {
    const customer = sandbox.customer('5511944440003@wa.gw.msging.net');
    sandbox.say(customer, 'abrindo');
    const ticketId = (
      await sandbox.helpdesk.waitFor(
        () => sandbox.helpdesk.tickets().find((t) => t.customerMessages.includes('abrindo')),
        15_000,
        'the ticket for the hostile texts',
      )
    ).id;
    const before = sandbox.helpdesk.apiCalls().length;
    await fc.assert(
      fc.asyncProperty(hostileText, async (text) => {
        sandbox.say(customer, text);
        const expected = testKit(vendor).asAgentReads?.(text) ?? text;
        await sandbox.helpdesk.waitFor(
          () =>
            sandbox.helpdesk
              .tickets()
              .find((t) => t.id === ticketId)
              ?.customerMessages.includes(expected),
          15_000,
          `the hostile text ${JSON.stringify(text)} as the agent reads it`,
        );
      }),
      { numRuns: 15 },
    );
    const written = sandbox.helpdesk.apiCalls().slice(before);
    expect(written.length).toBeGreaterThanOrEqual(15);
    expect(written.flatMap((call) => testKit(vendor).liveMarkup?.(call.body) ?? [])).toEqual([]);
  });

  it('refuses every spelling of an internal address in a customer file link, and says so to the agent (issue 17.9)', async () => {
    const customer = sandbox.customer('5511944440004@wa.gw.msging.net');
    sandbox.say(customer, 'vou mandar arquivos');
    await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().find((t) => t.customerMessages.includes('vou mandar arquivos')),
      15_000,
      'the ticket for the file links',
    );
    const port = sandbox.media.port;
    const hosts = [
      '[64:ff9b::7f00:1]', // NAT64 of 127.0.0.1
      '[64:ff9b:1::a00:1]', // local-use NAT64
      '[2002:7f00:1::1]', // 6to4 of 127.0.0.1
      '[2001:0:4136:e378:8000:63bf:80ff:fffe]', // Teredo, client 127.0.0.1
      '[100::7f00:1]', // discard-only
      '[fec0::1]', // site-local
      '[::ffff:a9fe:a9fe]', // IPv4-mapped metadata address
      'localhost', // a name for loopback the sandbox's allow-list does not cover
    ];
    for (const host of hosts) {
      const url = `http://${host}:${port}/secure-medias/x.jpg?sig=SECRET-${hosts.indexOf(host)}`;
      sandbox.sendMedia(customer, { type: 'image/jpeg', uri: url, title: 'foto.jpg' });
      await sandbox.helpdesk.waitFor(
        () =>
          sandbox.helpdesk
            .tickets()
            .some((t) =>
              t.customerMessages.some((m) => m.includes('its address is not allowed') && m.includes(host)),
            ),
        15_000,
        `the note for ${host}`,
      );
    }
    expect(sandbox.media.hits.size).toBe(0);
    // The links' signatures never reach a log line.
    expect(logs.text()).not.toMatch(/SECRET-\d/);
  });

  it('ignores random frames on the LIME session with a log line, and keeps serving', async () => {
    const envelope = fc.record(
      {
        id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        from: fc.oneof(fc.string(), fc.constant('x@tunnel.msging.net/i'), fc.integer()),
        to: fc.oneof(fc.string(), fc.constant(sandbox.bot)),
        type: fc.oneof(fc.string(), fc.constantFrom('text/plain', 'application/vnd.lime.media-link+json')),
        content: fc.jsonValue(),
        metadata: fc.option(fc.dictionary(fc.string(), fc.jsonValue())),
        event: fc.option(fc.constantFrom('failed', 'received', 'bogus')),
      },
      { requiredKeys: [] },
    );
    const frame = fc.oneof(
      envelope.map((e) => JSON.stringify(e)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        sandbox.lime.sendRaw(sandbox.bot, f);
        return true;
      }),
      { numRuns: 200 },
    );
    const bia = sandbox.customer('5511944440002@wa.gw.msging.net');
    sandbox.say(bia, 'depois do ruído');
    await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().some((t) => t.customerMessages.includes('depois do ruído')),
      20_000,
      'a ticket for the next customer',
    );
    expect(sandbox.lime.connectedBots).toContain(sandbox.bot);
  });
});
