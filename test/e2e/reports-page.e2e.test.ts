/**
 * The report page in a real browser: headless Chromium from the npm registry (@sparticuz/chromium, else Debian's;
 * see test/helpers/chromium.ts) driven by playwright-core (no browser download). Sessions are recorded the real way (domain events → recorder → SQLite), the page is served by
 * the real routes, and the test checks that every chart drew the aggregates' numbers: bars exist, have the values,
 * and their on-screen sizes are proportional to them. A screenshot goes to test-output/ (not in the repository).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { DomainEvents, type DomainEventMap } from '../../src/core/events';
import { registerReportsRoutes } from '../../src/http/reports-routes';
import type { Aggregates } from '../../src/reports/aggregates';
import { Reports } from '../../src/reports/index';
import { computeAggregates } from '../../src/reports/queries';
import { parseRange } from '../../src/reports/time';
import { chromiumLaunch } from '../helpers/chromium';
import { captureLogs } from '../helpers/log-capture';
import { scriptedEvents, type ScriptedSession } from '../helpers/report-events';
import { CHROMIUM, describeNeeding } from '../helpers/requirements';

jest.setTimeout(90_000);

const ADMIN_TOKEN = 'page-test-admin-token-0123456789';
const XSS_NAME = '<img src=x onerror="window.__xss=1">Zé';
const OUTPUT = path.resolve(__dirname, '../../test-output');

describeNeeding(CHROMIUM)('report page in headless Chromium', () => {
  let dir: string;
  let reports: Reports;
  let app: FastifyInstance;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  let aggregates: Aggregates;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bhb-reports-page-'));
    const logs = captureLogs('warn');
    reports = new Reports(
      {
        enabled: true,
        sqlitePath: path.join(dir, 'reports.sqlite'),
        retentionDays: 1826,
        storeText: false,
        timezone: 'America/Sao_Paulo',
        teamTagPrefix: 'team_',
      },
      logs.logger,
    );
    const bus = new DomainEvents();
    reports.subscribe(bus);

    // Twelve sessions over the last six days: three agents, two teams, two vendors, one expired, one still open.
    const now = Date.now();
    const day = 86_400_000;
    const ana = { id: '101', name: 'Ana Souza' };
    const bia = { id: '102', name: 'Bia Lima' };
    const caio = { id: '103', name: 'Caio Reis' };
    const sessions: ScriptedSession[] = [
      {
        sessionId: 'p01',
        start: iso(now - 5 * day),
        agent: ana,
        agentAt: [60],
        closeAt: 400,
        tags: ['team_billing'],
      },
      { sessionId: 'p02', start: iso(now - 5 * day + 3600e3), agent: bia, agentAt: [300], closeAt: 900 },
      {
        sessionId: 'p03',
        start: iso(now - 4 * day),
        agent: ana,
        agentAt: [90],
        closeAt: 600,
        tags: ['team_billing'],
      },
      { sessionId: 'p04', start: iso(now - 3 * day), closeAt: 1800, closedBy: 'expired', closingText: false },
      { sessionId: 'p05', start: iso(now - 3 * day + 600e3), agent: caio, agentAt: [1200], closeAt: 2400 },
      {
        sessionId: 'p06',
        start: iso(now - 2 * day),
        agent: ana,
        agentAt: [30],
        closeAt: 300,
        vendor: 'intercom',
      },
      {
        sessionId: 'p07',
        start: iso(now - 2 * day + 60e3),
        agent: bia,
        agentAt: [45],
        closeAt: 500,
        survey: { rating: 5 },
      },
      {
        sessionId: 'p08',
        start: iso(now - 2 * day + 120e3),
        agent: bia,
        agentAt: [240],
        closeAt: 800,
        survey: { rating: 4 },
      },
      {
        sessionId: 'p09',
        start: iso(now - 1 * day),
        agent: ana,
        agentAt: [20],
        closeAt: 200,
        name: XSS_NAME,
      },
      {
        sessionId: 'p10',
        start: iso(now - 1 * day + 60e3),
        agent: caio,
        agentAt: [600],
        closeAt: 700,
        closedBy: 'customer',
        reason: 'customer left',
      },
      {
        sessionId: 'p11',
        start: iso(now - 3600e3),
        agent: ana,
        agentAt: [15],
        closeAt: 120,
        tags: ['team_sales'],
      },
      { sessionId: 'p12', start: iso(now - 600e3), customerAt: [0, 30] }, // waiting, still open
    ];
    for (const s of sessions) {
      for (const e of scriptedEvents(s))
        bus.emit(e.name, e.payload as DomainEventMap[typeof e.name] as never);
    }
    await reports.recorder.flush();
    expect(reports.recorder.stats()).toMatchObject({ failed: 0, dropped: 0 });

    app = Fastify();
    registerReportsRoutes(app, { reports, adminToken: ADMIN_TOKEN }, logs.logger);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    url = `http://127.0.0.1:${port}/reports`;
    aggregates = await computeAggregates(
      await reports.whenReady(),
      parseRange({}, 'America/Sao_Paulo', new Date()),
      'America/Sao_Paulo',
    );

    const { source, ...browser } = await chromiumLaunch();
    process.stdout.write(`report page test: Chromium from ${source}\n`);
    context = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      ...browser,
      headless: true,
      // The browser answers the page's Basic challenge with the token as the password, as a person would.
      httpCredentials: { username: 'admin', password: ADMIN_TOKEN },
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });

  afterAll(async () => {
    await context?.close();
    await app?.close();
    await reports?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('draws the aggregates: every bar has its value and a size proportional to it', async () => {
    const response = await page.goto(url, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(await page.title()).toContain('Attendance sessions');

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'reports-page.png'), fullPage: true });

    // Sessions per day: one bar per day of the range, with the day's count; heights proportional to counts.
    const perDay = await bars(page, 'sessions-per-day', 'sessions');
    expect(perDay.map((b) => [b.key, b.value])).toEqual(
      aggregates.groups.day.map((d) => [d.key, d.sessions]),
    );
    expect(perDay.filter((b) => b.value > 0).length).toBeGreaterThanOrEqual(5);
    expectProportional(perDay, 'height');
    expect(perDay.reduce((n, b) => n + b.value, 0)).toBe(12);

    // Waiting time per day (average and p90), from the same aggregates.
    const avgWait = await bars(page, 'wait-per-day', 'avg_wait_seconds');
    expect(avgWait.map((b) => [b.key, b.value])).toEqual(
      aggregates.groups.day.map((d) => [d.key, d.avg_wait_seconds ?? 0]),
    );
    const p90 = await bars(page, 'wait-per-day', 'p90_wait_seconds');
    expectProportional([...avgWait, ...p90], 'height');

    // Per agent, close reason, team, helpdesk: horizontal bars, widths proportional to sessions.
    const agents = await bars(page, 'sessions-by-agent', 'sessions');
    expect(agents.map((b) => [b.key, b.value])).toEqual(
      aggregates.groups.agent.map((g) => [g.key, g.sessions]),
    );
    expect(Object.fromEntries(agents.map((b) => [b.key, b.value]))).toEqual({
      '101': 5,
      '102': 3,
      '103': 2,
      '(no agent)': 2,
    });
    expect(await page.textContent('svg[data-chart="sessions-by-agent"]')).toContain('Ana Souza');
    expectProportional(agents, 'width');
    const reasons = await bars(page, 'sessions-by-close-reason', 'sessions');
    expect(reasons.map((b) => [b.key, b.value])).toEqual(
      aggregates.groups.close_reason.map((g) => [g.key, g.sessions]),
    );
    expect(reasons.map((b) => b.key)).toEqual(
      expect.arrayContaining(['agent', 'expired', 'customer: customer left', '(open)']),
    );
    expect((await bars(page, 'sessions-by-team', 'sessions')).map((b) => [b.key, b.value])).toEqual([
      ['(no team)', 9],
      ['billing', 2],
      ['sales', 1],
    ]);
    expect((await bars(page, 'sessions-by-vendor', 'sessions')).map((b) => [b.key, b.value])).toEqual([
      ['zendesk', 11],
      ['intercom', 1],
    ]);

    // The totals and the recent sessions table.
    expect(await page.textContent('[data-metric="sessions"] b')).toBe('12');
    expect(await page.textContent('[data-metric="expired-share"] b')).toBe('9.1%'); // 1 of 11 closed
    expect(await page.textContent('[data-metric="avg-rating"] b')).toBe('4.5 / 5 (2 rated)');
    expect(await page.locator('#recent-sessions tbody tr[data-session]').count()).toBe(12);
    expect(await page.locator('#recent-sessions tbody tr').first().getAttribute('data-session')).toBe('p12');
  });

  it('shows a hostile customer name as text and runs nothing', async () => {
    await page.goto(url, { waitUntil: 'load' });
    const cell = page.locator('tr[data-session="p09"] td').nth(4);
    expect(await cell.textContent()).toBe(XSS_NAME);
    expect(await page.locator('#recent-sessions img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('narrows the range with the form (days in the report time zone)', async () => {
    await page.goto(url, { waitUntil: 'load' });
    const today = await page.inputValue('input[name="to"]');
    await page.fill('input[name="from"]', today);
    await Promise.all([page.waitForURL(/from=/), page.click('button[type="submit"]')]);
    const perDay = await bars(page, 'sessions-per-day', 'sessions');
    expect(perDay.map((b) => b.key)).toEqual([today]);
    expect(perDay[0]!.value).toBe(aggregates.groups.day.find((d) => d.key === today)?.sessions ?? 0);
  });
});

interface Bar {
  key: string;
  value: number;
  width: number;
  height: number;
}

/** The bars of one series of a chart, as the browser laid them out. */
async function bars(page: Page, chart: string, series: string): Promise<Bar[]> {
  const locator = page.locator(`svg[data-chart="${chart}"] rect.bar[data-series="${series}"]`);
  const count = await locator.count();
  const out: Bar[] = [];
  for (let i = 0; i < count; i++) {
    const rect = locator.nth(i);
    const box = await rect.boundingBox();
    out.push({
      key: (await rect.getAttribute('data-key')) ?? '',
      value: Number((await rect.getAttribute('data-value')) || 0),
      width: box?.width ?? 0,
      height: box?.height ?? 0,
    });
  }
  return out;
}

/** Bars with a value are drawn, bars without are flat, and size / value is the same for all (within a pixel). */
function expectProportional(list: Bar[], dimension: 'width' | 'height'): void {
  const drawn = list.filter((b) => b.value > 0);
  expect(drawn.length).toBeGreaterThan(0);
  for (const b of list.filter((x) => x.value === 0)) expect(b[dimension]).toBeLessThan(0.5);
  const largest = drawn.reduce((a, b) => (b.value > a.value ? b : a));
  expect(largest[dimension]).toBeGreaterThan(20);
  const scale = largest[dimension] / largest.value;
  for (const b of drawn) expect(Math.abs(b[dimension] - b.value * scale)).toBeLessThan(1.5);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
