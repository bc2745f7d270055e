/**
 * The load balancer in front of the bridge processes, for the vendor's webhooks: round-robin, and a dead upstream
 * (connection refused or reset, a process killed mid-request) is skipped for the next one. When none answers, 502:
 * the vendor then delivers again, as Zendesk does for any non-2xx answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding']);

export interface ProxyStats {
  requests: number;
  /** Requests that went to another upstream because one did not answer. */
  failovers: number;
  /** Requests no upstream answered (502). */
  unanswered: number;
}

export class RoundRobinProxy {
  readonly stats: ProxyStats = { requests: 0, failovers: 0, unanswered: 0 };
  private next = 0;

  private constructor(
    private readonly server: Server,
    private readonly upstreams: () => number[],
    private readonly timeoutMs: number,
  ) {}

  static async start(upstreams: () => number[], timeoutMs = 15_000): Promise<RoundRobinProxy> {
    const server = createServer();
    const proxy = new RoundRobinProxy(server, upstreams, timeoutMs);
    server.on('request', (req, res) => void proxy.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = String(value);
    }
    const ports = this.upstreams();
    for (let tried = 0; tried < ports.length; tried++) {
      const port = ports[this.next++ % ports.length]!;
      try {
        const response = await fetch(`http://127.0.0.1:${port}${req.url ?? '/'}`, {
          method: req.method,
          headers,
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const answer = Buffer.from(await response.arrayBuffer());
        res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'text/plain' });
        res.end(answer);
        return;
      } catch {
        // Refused, reset or timed out: this upstream is down (or was killed mid-request). Try the next one.
        if (tried + 1 < ports.length) this.stats.failovers++;
      }
    }
    this.stats.unanswered++;
    res.writeHead(502, { 'content-type': 'text/plain' }).end('no bridge answered');
  }
}
