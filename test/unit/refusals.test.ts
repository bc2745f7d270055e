/**
 * Refused requests are counted one by one and logged in aggregate (issue 17.11): the first of a route and reason
 * at once, then one line per window with how many more there were, so a flood of bad requests cannot flood the logs.
 */
import { RefusalLog } from '../../src/telemetry/refusals';
import { Metrics } from '../../src/telemetry/metrics';
import { captureLogs } from '../helpers/log-capture';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const flush = () =>
  new Promise((resolve) =>
    jest.requireActual<typeof import('node:timers')>('node:timers').setImmediate(resolve),
  );

function setup() {
  const logs = captureLogs('info');
  const metrics = new Metrics({ processMetrics: false });
  const refusals = new RefusalLog(logs.logger, { metrics, windowMs: 60_000 });
  const refuse = (route: string, reason: string, ip = '203.0.113.7') =>
    refusals.refuse({
      route,
      reason,
      code: 'WEBHOOK_UNAUTHENTICATED',
      message: 'webhook rejected',
      meta: { ip, detail: 'signature mismatch' },
    });
  const counted = async () => {
    const { body } = await metrics.render();
    return body.split('\n').filter((l) => l.startsWith('bhb_requests_refused_total{'));
  };
  return { logs, refusals, refuse, counted };
}

describe('RefusalLog', () => {
  it('logs the first refusal at once, then one line per minute with the count; counts every one', async () => {
    const { logs, refusals, refuse, counted } = setup();
    for (let i = 0; i < 1_000; i++) refuse('/webhooks/zendesk', 'bad-signature', `198.51.100.${i % 7}`);
    await flush();
    expect(logs.lines()).toHaveLength(1);
    expect(logs.lines()[0]).toMatchObject({
      level: 'warn',
      message: 'webhook rejected',
      code: 'WEBHOOK_UNAUTHENTICATED',
      route: '/webhooks/zendesk',
      reason: 'bad-signature',
      ip: '198.51.100.0',
      detail: 'signature mismatch',
    });
    expect(await counted()).toEqual([
      'bhb_requests_refused_total{route="/webhooks/zendesk",reason="bad-signature"} 1000',
    ]);

    jest.advanceTimersByTime(60_000);
    await flush();
    expect(logs.lines()).toHaveLength(2);
    expect(logs.lines()[1]).toMatchObject({
      level: 'warn',
      message: 'webhook rejected (repeated)',
      code: 'WEBHOOK_UNAUTHENTICATED',
      route: '/webhooks/zendesk',
      reason: 'bad-signature',
      repeated: 999,
      windowSeconds: 60,
      ips: ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'],
    });
    refusals.flush();
  });

  it('keeps routes and reasons apart', async () => {
    const { logs, refusals, refuse, counted } = setup();
    refuse('/webhooks/zendesk', 'bad-signature');
    refuse('/webhooks/zendesk', 'replay-window');
    refuse('/admin/queue', 'unauthenticated');
    refuse('/admin/queue', 'unauthenticated');
    await flush();
    expect(logs.lines().map((l) => [l.route, l.reason])).toEqual([
      ['/webhooks/zendesk', 'bad-signature'],
      ['/webhooks/zendesk', 'replay-window'],
      ['/admin/queue', 'unauthenticated'],
    ]);
    expect(await counted()).toHaveLength(3);
    refusals.flush();
  });

  it('a steady flood writes one line a minute; after a quiet minute the next refusal is logged at once again', async () => {
    const { logs, refusals, refuse } = setup();
    for (let minute = 0; minute < 5; minute++) {
      for (let i = 0; i < 100; i++) refuse('/webhooks/intercom', 'bad-signature');
      jest.advanceTimersByTime(60_000);
    }
    await flush();
    expect(logs.lines().map((l) => l.repeated)).toEqual([undefined, 99, 100, 100, 100, 100]);
    jest.advanceTimersByTime(60_000); // a quiet minute: nothing to say, the window closes
    await flush();
    expect(logs.lines()).toHaveLength(6);
    refuse('/webhooks/intercom', 'bad-signature');
    await flush();
    expect(logs.lines()).toHaveLength(7);
    expect(logs.lines()[6]!.repeated).toBeUndefined();
    refusals.flush();
  });

  it('writes what is pending when flushed (shutdown), and nothing more after', async () => {
    const { logs, refusals, refuse } = setup();
    refuse('/admin/dlq', 'unauthenticated');
    refuse('/admin/dlq', 'unauthenticated');
    refuse('/admin/dlq', 'unauthenticated');
    refusals.flush();
    await flush();
    expect(logs.lines().map((l) => l.repeated)).toEqual([undefined, 2]);
    jest.advanceTimersByTime(120_000);
    await flush();
    expect(logs.lines()).toHaveLength(2);
  });
});
