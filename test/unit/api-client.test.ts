import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { vendorApiClient } from '../../src/adapters/shared/api-client';

/**
 * The vendors' HTTP client reuses its connection and sets the TCP keep-alive probe once per connection: axios sets
 * it on every request's socket and the agent again when the socket is free, so the two must agree (the benchmark's
 * profile showed two `setsockopt` calls per vendor call before).
 */
describe('vendorApiClient', () => {
  let server: Server;
  let baseURL: string;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('{"ok":true}'));
    server.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('keeps one connection for sequential calls and sets its keep-alive once', async () => {
    const http = vendorApiClient({ baseURL, timeout: 5_000, headers: {} });
    const calls: Array<[boolean, number]> = [];
    const first = await http.get('/one');
    expect(first.data).toEqual({ ok: true });
    // The connection's handle: count the keep-alive calls that reach the OS from here on.
    const socket = (first.request as { socket: Socket }).socket;
    const handle = (socket as unknown as { _handle: { setKeepAlive: (on: boolean, s: number) => number } })
      ._handle;
    const original = handle.setKeepAlive.bind(handle);
    handle.setKeepAlive = (on, delay) => {
      calls.push([on, delay]);
      return original(on, delay);
    };
    for (let i = 0; i < 3; i++) await http.get(`/again/${i}`);
    expect(sockets.size).toBe(1);
    expect(calls).toEqual([]);
  });
});
