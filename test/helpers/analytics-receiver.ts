import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got. */
export interface ReceivedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** The raw body, byte for byte (signatures are checked over it). */
  raw: string;
  body: unknown;
}

/** How a receiver answers: `ok`, an HTTP error status, `hang` (never answers), or a function of the request. */
export type ReceiverMode =
  | 'ok'
  | 'hang'
  | { status: number; body?: unknown }
  | ((req: ReceivedRequest) => { status: number; body?: unknown });

/**
 * A local HTTP server standing in for an analytics tool: records every request and answers as told.
 * `hang` keeps requests open until `release()` or `setMode` to something else.
 */
export class AnalyticsReceiver {
  readonly requests: ReceivedRequest[] = [];
  private mode: ReceiverMode = 'ok';
  private held: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(mode: ReceiverMode = 'ok'): Promise<AnalyticsReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const receiver = new AnalyticsReceiver(server, `http://127.0.0.1:${port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => receiver.handle(req, res));
    receiver.mode = mode;
    return receiver;
  }

  setMode(mode: ReceiverMode): void {
    this.mode = mode;
    if (mode !== 'hang') this.release();
  }

  /** Answers every held request with 200. */
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  /** Requests that are still waiting for an answer (mode `hang`). */
  get holding(): number {
    return this.held.length;
  }

  async waitFor<T>(
    predicate: () => T | false | undefined,
    timeoutMs = 10_000,
    what = 'condition',
  ): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      if (Date.now() > until)
        throw new Error(`timed out waiting for ${what}; got ${this.requests.length} requests`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://localhost');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        headers[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        raw,
        body,
      };
      const answer = (status: number, payload: unknown = { ok: true }) => {
        if (res.writableEnded) return;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      };
      const mode = this.mode;
      this.requests.push(request);
      if (mode === 'hang') {
        this.held.push(() => answer(200));
        return;
      }
      if (mode === 'ok') return answer(200);
      const result = typeof mode === 'function' ? mode(request) : mode;
      answer(result.status, result.body);
    });
  }
}
