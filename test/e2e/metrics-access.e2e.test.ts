/**
 * Who can read `GET /metrics`: open on the main port by default; behind `Authorization: Bearer <METRICS_TOKEN>`;
 * on a port of its own with METRICS_PORT (then not on the main port, which the helpdesk's webhooks reach).
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { captureLogs } from '../helpers/log-capture';
import { freePort } from '../helpers/redis-server';

jest.setTimeout(30_000);

const TOKEN = 'metrics-token-0123456789abcdef';

describe('/metrics access', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
  });

  const get = async (url: string, token?: string) => {
    const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return { status: response.status, body: await response.text() };
  };

  it('is open on the main port when neither METRICS_PORT nor METRICS_TOKEN is set', async () => {
    sandbox = await startSandbox({ logger: captureLogs().logger });
    const metrics = await get(`${sandbox.bridge.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('bhb_');
  });

  it('answers only the bearer token with METRICS_TOKEN', async () => {
    const logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { METRICS_TOKEN: TOKEN } });
    expect((await get(`${sandbox.bridge.url}/metrics`)).status).toBe(401);
    expect((await get(`${sandbox.bridge.url}/metrics`, `${TOKEN}x`)).status).toBe(401);
    const metrics = await get(`${sandbox.bridge.url}/metrics`, TOKEN);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('bhb_');
    expect((await get(`${sandbox.bridge.url}/healthz`)).status).toBe(200);
    expect(JSON.stringify(logs.lines())).not.toContain(TOKEN);
  });

  it('moves to its own port with METRICS_PORT, and with METRICS_TOKEN too asks for the token there', async () => {
    const port = await freePort();
    sandbox = await startSandbox({
      logger: captureLogs().logger,
      env: { METRICS_PORT: String(port), METRICS_TOKEN: TOKEN },
    });
    expect((await get(`${sandbox.bridge.url}/metrics`, TOKEN)).status).toBe(404);
    const own = `http://127.0.0.1:${port}`;
    expect((await get(`${own}/metrics`)).status).toBe(401);
    const metrics = await get(`${own}/metrics`, TOKEN);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('bhb_');
    expect((await get(`${own}/healthz`)).status).toBe(404); // nothing else is served there
    await sandbox.stop();
    sandbox = undefined;
    await expect(fetch(`${own}/metrics`)).rejects.toThrow(); // closed with the bridge
  });

  it('serves it open on METRICS_PORT without a token', async () => {
    const port = await freePort();
    sandbox = await startSandbox({ logger: captureLogs().logger, env: { METRICS_PORT: String(port) } });
    expect((await get(`${sandbox.bridge.url}/metrics`)).status).toBe(404);
    expect((await get(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  });
});
