/**
 * The load balancer in front of the bridge processes, for the vendor's webhooks: round-robin, and a dead upstream
 * (connection refused or reset, a process killed mid-request) is skipped for the next one. When none answers, 502:
 * the vendor then delivers again, as Zendesk does for any non-2xx answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding']);

export interface ProxyStats {
  requests: number;
  /** Requests that went to another upstream because one did not answer. */
  failovers: number;
  /** Requests no upstream answered (502). */
  unanswered: number;
  /** Why upstreams did not answer, by error code. */
  errors: Record<string, number>;
}

export class RoundRobinProxy {
  readonly stats: ProxyStats = { requests: 0, failovers: 0, unanswered: 0, errors: {} };
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
    const first = this.next++;
    for (let tried = 0; tried < ports.length; tried++) {
      const port = ports[(first + tried) % ports.length]!;
      try {
        const response = await fetch(`http://127.0.0.1:${port}${req.url ?? '/'}`, {
          method: req.method,
          headers,
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const answer = Buffer.from(await response.arrayBuffer());
        res.writeHead(response.status, {
          'content-type': response.headers.get('content-type') ?? 'text/plain',
        });
        res.end(answer);
        return;
      } catch (err) {
        // Refused, reset or timed out: this upstream is down (or was killed mid-request). Try the next one.
        const cause =
          (err as { cause?: { code?: string }; name?: string }).cause?.code ?? (err as Error).name;
        this.stats.errors[cause] = (this.stats.errors[cause] ?? 0) + 1;
        if (tried + 1 < ports.length) this.stats.failovers++;
      }
    }
    this.stats.unanswered++;
    res.writeHead(502, { 'content-type': 'text/plain' }).end('no bridge answered');
  }
}

/** One vendor API call as the tap saw it. */
export interface TappedCall {
  /** The bridge process that made it. */
  bridge: number;
  /** When the tap got the call's headers, its whole body, and the vendor's answer. */
  startedAt: number;
  bodyAt?: number;
  vendorAt?: number;
  /** When the vendor's answer was handed back to the bridge's socket; undefined when it never was. */
  answeredAt?: number;
  /** False when the bridge never got the answer (it timed out, its process died, or the vendor hung up). */
  delivered: boolean;
  /**
   * The bridge closed the connection right after the answer was written, without another call on it: it had given
   * up already (its timeout fired while the answer was on its way; on a loaded machine the tap learns it late).
   */
  abandoned?: boolean;
}

/** How soon after an answer a closed connection means the bridge had given up waiting for it. */
const ABANDONED_WITHIN_MS = 1_000;

/**
 * A pass-through in front of the vendor for one bridge process: it tags each API call with `x-chaos-call` (the
 * emulator records request headers) and notes whether the answer made it back to the bridge. So a duplicate
 * found at the end can be traced to its cause: which process made the earlier call, and whether it ever learnt
 * that the call had succeeded. It never aborts a call the bridge gave up on: the vendor still does the work.
 */
export class ApiTap {
  private count = 0;
  /** The last call answered on each connection, and when. */
  private readonly lastAnswered = new WeakMap<Socket, { call: TappedCall; at: number }>();
  private readonly watched = new WeakSet<Socket>();

  private constructor(
    private readonly server: Server,
    readonly bridge: number,
    private readonly upstream: string,
    private readonly calls: Map<string, TappedCall>,
  ) {}

  static async start(bridge: number, upstream: string, calls: Map<string, TappedCall>): Promise<ApiTap> {
    const server = createServer();
    const tap = new ApiTap(server, bridge, upstream.replace(/\/$/, ''), calls);
    server.on('request', (req, res) => void tap.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return tap;
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
    const id = `b${this.bridge}-${++this.count}`;
    const call: TappedCall = { bridge: this.bridge, startedAt: Date.now(), delivered: false };
    this.calls.set(id, call);
    let finished = false;
    const socket = req.socket;
    this.lastAnswered.delete(socket);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('close', () => {
        const last = this.lastAnswered.get(socket);
        if (last && Date.now() - last.at < ABANDONED_WITHIN_MS) last.call.abandoned = true;
      });
    }
    res.on('finish', () => {
      finished = true;
      call.answeredAt = Date.now();
      call.delivered = true;
      this.lastAnswered.set(socket, { call, at: call.answeredAt });
    });
    res.on('close', () => {
      if (!finished) call.delivered = false;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    call.bodyAt = Date.now();
    const headers: Record<string, string> = { 'x-chaos-call': id };
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = String(value);
    }
    try {
      const response = await fetch(`${this.upstream}${req.url ?? '/'}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
        redirect: 'manual',
      });
      const body = Buffer.from(await response.arrayBuffer());
      call.vendorAt = Date.now();
      const out: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name) && name !== 'content-encoding') out[name] = value;
      });
      if (res.destroyed) return; // the bridge gave up (timeout) or died: it never gets this answer
      res.writeHead(response.status, out);
      res.end(body);
    } catch {
      // The vendor dropped the connection (a hung call): so does the tap.
      res.destroy();
    }
  }
}
