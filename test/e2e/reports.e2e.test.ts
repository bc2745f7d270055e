/**
 * Session reports through the whole loop: a real handoff in the sandbox (real blip-sdk client, LIME server, Zendesk
 * emulator, signed webhooks) produces a row whose times and counts match what happened, readable over the admin
 * routes; CSV and NDJSON exports agree. Once with the SQLite file, once with a real PostgreSQL server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { parse } from 'csv-parse/sync';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { fromCsvRecord } from '../../src/reports/export';
import type { SessionRow } from '../../src/reports/schema';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { startPostgresServer, type PostgresServer } from '../helpers/postgres-server';
import { describeEachNeeding, POSTGRES } from '../helpers/requirements';

jest.setTimeout(60_000);

const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
const REDIRECT = 'application/vnd.lime.redirect+json';
const auth = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, validateStatus: () => true };

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeEachNeeding([['sqlite'], ['postgres']], ([backend]) =>
  backend === 'postgres' ? POSTGRES : undefined,
)('session reports with %s', (backend) => {
  let pg: PostgresServer | undefined;
  let dir: string;
  let sandbox: Sandbox;
  let logs: CapturedLogs;

  beforeAll(async () => {
    if (backend === 'postgres') pg = await startPostgresServer();
  });
  afterAll(async () => {
    await pg?.stop();
  });
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bhb-reports-e2e-'));
    logs = captureLogs();
    sandbox = await startSandbox({
      logger: logs.logger,
      env: {
        ADMIN_TOKEN,
        REPORTS_SQLITE_PATH: path.join(dir, 'reports.sqlite'),
        ...(pg ? { DATABASE_URL: await pg.createDatabase() } : {}),
      },
    });
  });
  afterEach(async () => {
    await sandbox.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const sessions = async (query = ''): Promise<SessionRow[]> => {
    const res = await axios.get<string>(`${sandbox.bridge.url}/reports/sessions?format=ndjson${query}`, {
      ...auth,
      responseType: 'text',
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-report-schema']).toBe('sessions/v1');
    return res.data
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SessionRow);
  };

  it('turns a handoff into a row whose times and counts match what happened', async () => {
    await until(async () => sandbox.bridge.reports?.store(), 'the reports store');
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    const t0 = Date.now();
    sandbox.say(maria, 'Oi, meu boleto veio errado');
    const ticket = await sandbox.helpdesk.waitFor(
      () => [...sandbox.helpdesk.ticketsById.values()][0],
      10_000,
      'the ticket',
    );
    const photo = sandbox.media.add({ data: Buffer.alloc(2_000, 7), contentType: 'image/jpeg' });
    sandbox.sendMedia(maria, { type: 'image/jpeg', uri: photo, title: 'boleto.jpg' });
    sandbox.say(maria, 'Segue a foto');
    await sandbox.helpdesk.waitFor(() => ticket.comments.length === 3, 10_000, 'three comments');

    // In progress: the row is there already, open, with what happened so far.
    const open = await until(async () => (await sessions())[0], 'the open session');
    expect(open).toMatchObject({ status: 'open', customer_messages: expect.any(Number), finished_at: null });

    const tReply = Date.now();
    await sandbox.helpdesk.agentReply(ticket.id, 'Olá Maria, vou corrigir.');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'Olá Maria, vou corrigir.');
    // The reply counts as delivered once BLiP acknowledged it, a moment after the server has it.
    await sandbox.bridge.runner.idle();
    const tReplied = Date.now();
    const tSolve = Date.now();
    await sandbox.helpdesk.solve(ticket.id);
    await sandbox.lime.waitForSent((s) => s.envelope.to === maria.address && s.envelope.type === REDIRECT);
    await sandbox.bridge.runner.idle();
    const tDone = Date.now();

    const row = await until(
      async () => (await sessions()).find((r) => r.status === 'closed' && r.handed_back_at),
      'the closed session',
    );
    expect(row).toMatchObject({
      vendor: 'zendesk',
      ticket_id: String(ticket.id),
      protocol: String(ticket.id),
      channel: 'WhatsApp',
      channel_domain: 'wa.gw.msging.net',
      router: 'acmerouter@msging.net',
      customer_identity: '5511987654321@wa.gw.msging.net',
      customer_key: maria.address.split('/')[0],
      agent_id: '30764510028417',
      agent_ids: '30764510028417',
      closed_by: 'agent',
      expired: false,
      customer_messages: 3,
      agent_messages: 1,
      automatic_messages: 1,
      attachments: 1,
      delivery_failures: 0,
      tags: 'blip_bridge',
    });
    // Times fall in the windows in which each thing happened, and the durations are their differences.
    const ms = (v: string | null) => Date.parse(v!);
    expect(ms(row.created_at)).toBeGreaterThanOrEqual(t0);
    expect(ms(row.created_at)).toBeLessThanOrEqual(ms(row.ticket_opened_at));
    expect(ms(row.ticket_opened_at)).toBeLessThan(tReply);
    expect(ms(row.first_agent_reply_at)).toBeGreaterThanOrEqual(tReply);
    expect(ms(row.first_agent_reply_at)).toBeLessThanOrEqual(tReplied);
    expect(ms(row.finished_at)).toBeGreaterThanOrEqual(tSolve);
    expect(ms(row.handed_back_at)).toBeGreaterThanOrEqual(ms(row.finished_at));
    expect(ms(row.handed_back_at)).toBeLessThanOrEqual(tDone);
    expect(row.waiting_seconds).toBe((ms(row.first_agent_reply_at) - ms(row.created_at)) / 1000);
    expect(row.handle_seconds).toBe((ms(row.finished_at) - ms(row.first_agent_reply_at)) / 1000);
    expect(row.total_seconds).toBe((ms(row.finished_at) - ms(row.created_at)) / 1000);
    expect(row.last_event_at).toBe(row.handed_back_at);

    // One session, not one per event; the talk log has every message, without text (text storage is off).
    expect(await sessions()).toHaveLength(1);
    const detail = await axios.get<{ talk: Array<{ origin: string; text: string | null }> }>(
      `${sandbox.bridge.url}/reports/sessions/${row.session_id}`,
      auth,
    );
    expect(detail.data.talk.map((t) => t.origin)).toEqual([
      'customer',
      'customer',
      'customer',
      'agent',
      'automatic',
    ]);
    expect(detail.data.talk.every((t) => t.text === null)).toBe(true);

    // CSV over HTTP parses back to the same rows as NDJSON.
    const csv = await axios.get<string>(`${sandbox.bridge.url}/reports/sessions?format=csv`, {
      ...auth,
      responseType: 'text',
    });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const fromCsv = (parse(csv.data, { columns: true }) as Record<string, string>[]).map(fromCsvRecord);
    expect(fromCsv).toEqual(await sessions());

    // Aggregates over the same range.
    const agg = await axios.get<{ totals: Record<string, unknown> }>(
      `${sandbox.bridge.url}/reports/aggregates`,
      auth,
    );
    expect(agg.data.totals).toMatchObject({
      sessions: 1,
      closed: 1,
      answered: 1,
      avg_wait_seconds: Math.round(row.waiting_seconds! * 1000) / 1000,
      expired_share: 0,
    });
  });

  it('answers only with the admin token (Bearer, or Basic with the token as password)', async () => {
    await until(async () => sandbox.bridge.reports?.store(), 'the reports store');
    const url = `${sandbox.bridge.url}/reports/aggregates`;
    const none = await axios.get(url, { validateStatus: () => true });
    expect(none.status).toBe(401);
    expect(String(none.headers['www-authenticate'])).toContain('Basic');
    const wrong = await axios.get(url, {
      headers: { authorization: 'Bearer wrong' },
      validateStatus: () => true,
    });
    expect(wrong.status).toBe(401);
    const almost = await axios.get(url, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}X` },
      validateStatus: () => true,
    });
    expect(almost.status).toBe(401);
    const basic = await axios.get(url, {
      auth: { username: 'admin', password: ADMIN_TOKEN },
      validateStatus: () => true,
    });
    expect(basic.status).toBe(200);
    const page = await axios.get<string>(`${sandbox.bridge.url}/reports`, auth);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    // Three refusals of one route: the first logged at once, the others counted (issue 17.11).
    const refused = logs.lines().filter((l) => l.code === 'ADMIN_UNAUTHENTICATED');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ route: '/reports/aggregates', reason: 'unauthenticated' });
    const { body: metrics } = await sandbox.bridge.metrics.render();
    expect(metrics).toContain(
      'bhb_requests_refused_total{route="/reports/aggregates",reason="unauthenticated"} 3',
    );
    expect(logs.text()).not.toContain(ADMIN_TOKEN);
    expect((await axios.get(`${url}?from=2026-13-01`, auth)).status).toBe(400);
    expect((await axios.get(`${url}?format=csv`, auth)).status).toBe(400);
    expect((await axios.get(`${url}?format=csv&by=agent`, auth)).status).toBe(200);
  });
});

describe('session reports without ADMIN_TOKEN', () => {
  it('turns the routes off, and says so in the log', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bhb-reports-e2e-'));
    const logs = captureLogs();
    const sandbox = await startSandbox({
      logger: logs.logger,
      env: { REPORTS_SQLITE_PATH: path.join(dir, 'reports.sqlite') },
    });
    try {
      const res = await axios.get(`${sandbox.bridge.url}/reports/sessions`, {
        headers: { authorization: 'Bearer anything' },
        validateStatus: () => true,
      });
      expect(res.status).toBe(404);
      const off = logs
        .lines()
        .filter((l) => l.code === 'ADMIN_ROUTES_DISABLED' && l.message.includes('/reports'));
      expect(off).toHaveLength(1);
      // Recording goes on: the routes are what is off.
      expect(sandbox.bridge.reports).toBeDefined();
    } finally {
      await sandbox.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
