/**
 * Plumbing the vendor emulators share: serving the app, recording API requests, injected faults, and posting
 * webhooks. What makes a vendor a vendor (auth, response shapes, signatures, event bodies) stays in its emulator.
 */
import { type Agent as HttpAgent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { RecordedApiCall, WebhookDelivery } from './vendor-emulator';

/** The webhook secret the sandbox's emulators sign with (a test value). */
export const SANDBOX_WEBHOOK_SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';

/** An API request the emulator received; `status` is filled in once the response is sent. */
export interface RecordedRequest extends RecordedApiCall {
  at: Date;
  /** The injected fault that answered it (`"503"`, `"429"`, `late`, `hang`), if one did. */
  fault?: string;
}

/** Express middleware appending every request `shouldRecord` accepts to `requests`. */
export function recordRequests(
  requests: RecordedRequest[],
  shouldRecord: (req: Request) => boolean,
): RequestHandler {
  return (req, res, next) => {
    if (shouldRecord(req)) {
      const record: RecordedRequest = {
        at: new Date(),
        method: req.method,
        path: req.originalUrl,
        headers: req.headers,
        body: req.body as unknown,
      };
      requests.push(record);
      res.locals.recorded = record;
      res.on('finish', () => (record.status = res.statusCode));
    }
    next();
  };
}

/** Recorded requests matching a method and a pattern on the path (query string included). */
export function requestsTo(
  requests: RecordedRequest[],
  method: string,
  pathPattern: RegExp,
): RecordedRequest[] {
  return requests.filter((r) => r.method === method && pathPattern.test(r.path));
}

export interface Fault {
  status: number;
  headers: Record<string, string>;
}

/**
 * A slow API call (fault injection): `late` runs the request, then holds its response for `delayMs` (the vendor did
 * the work but the client may time out: a retry must not repeat it); `hang` never runs it and drops the connection
 * after `delayMs` (a request lost on the way).
 */
export interface SlowFault {
  delayMs: number;
  mode: 'late' | 'hang';
}

/**
 * `failNext` bookkeeping: each queued fault answers the next `count` API calls. Also time windows in which every
 * call fails (a 5xx storm, a 429 burst) and slow calls, with a count of the calls each kind of fault answered.
 */
export class FaultQueue {
  private readonly faults: Array<Fault & { remaining: number }> = [];
  private readonly windows: Array<Fault & { untilMs: number }> = [];
  private readonly slow: Array<SlowFault & { remaining: number }> = [];
  private readonly answered = new Map<string, number>();

  add(count: number, status: number, headers: Record<string, string> = {}): void {
    this.faults.push({ status, headers, remaining: count });
  }

  /** Every API call for the next `durationMs` answers `status` with `headers` (after the counted faults). */
  addWindow(durationMs: number, status: number, headers: Record<string, string> = {}): void {
    this.windows.push({ status, headers, untilMs: Date.now() + durationMs });
  }

  /** The next `count` API calls (that no status fault answers) are slow. */
  addSlow(count: number, delayMs: number, mode: SlowFault['mode']): void {
    if (count > 0) this.slow.push({ delayMs, mode, remaining: count });
  }

  /** The fault this API call must answer with, if any (it counts as one of the fault's calls). */
  take(): Fault | undefined {
    const fault = this.faults[0];
    if (fault && --fault.remaining <= 0) this.faults.shift();
    const now = Date.now();
    while (this.windows[0] && this.windows[0].untilMs <= now) this.windows.shift();
    const answer = fault ?? this.windows[0];
    if (answer) this.count(String(answer.status));
    return answer && { status: answer.status, headers: answer.headers };
  }

  /** Whether this API call (not answered by `take()`) must be slow, and how. */
  takeSlow(): SlowFault | undefined {
    const slow = this.slow[0];
    if (!slow) return undefined;
    if (--slow.remaining <= 0) this.slow.shift();
    this.count(slow.mode);
    return { delayMs: slow.delayMs, mode: slow.mode };
  }

  /** How many API calls each kind of fault answered so far: by status (`"503"`, `"429"`), `late`, `hang`. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.answered);
  }

  private count(kind: string): void {
    this.answered.set(kind, (this.answered.get(kind) ?? 0) + 1);
  }
}

/** Notes on the request's record (see recordRequests) which injected fault answered it. */
export function markFault(res: Response, fault: string): void {
  const record = res.locals.recorded as RecordedRequest | undefined;
  if (record) record.fault = fault;
}

/**
 * Express middleware step for a slow call (see SlowFault): `late` lets the request through and holds its response,
 * `hang` swallows it and destroys the connection later. Call it instead of `next()`.
 */
export function slowCall(fault: SlowFault, res: Response, next: NextFunction): void {
  markFault(res, fault.mode);
  if (fault.mode === 'hang') {
    setTimeout(() => res.socket?.destroy(), fault.delayMs).unref();
    return;
  }
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  // Express answers through res.end: hold that (the handler's work is done already). A client that gave up
  // meanwhile has closed the socket; ending the response then writes nothing.
  res.end = ((...args: unknown[]) => {
    setTimeout(() => end(...args), fault.delayMs).unref();
    return res;
  }) as Response['end'];
  next();
}

/**
 * Posts webhooks and records each delivery in `deliveries` (status 0 when the target is unreachable), keeping
 * the ones still in flight so `settle()` can wait for them.
 */
export class WebhookSender {
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly deliveries: WebhookDelivery[],
    private readonly options: {
      timeoutMs?: number;
      onDelivery?: (delivery: WebhookDelivery) => void;
      /**
       * Deliver over node:http with this keep-alive agent instead of fetch: much cheaper for the emulator's own
       * process under load, and bounded (`maxSockets`) like a vendor's delivery workers (the benchmark).
       */
      agent?: HttpAgent;
    } = {},
  ) {}

  post(url: string | undefined, body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    if (!url) return Promise.reject(new Error('the emulator has no webhook target'));
    const { timeoutMs, onDelivery } = this.options;
    const delivery = (async () => {
      let status = 0;
      try {
        if (this.options.agent) {
          status = await postOverHttp(url, body, headers, this.options.agent, timeoutMs);
        } else {
          const response = await fetch(url, {
            method: 'POST',
            headers,
            body,
            ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
          });
          status = response.status;
          await response.arrayBuffer();
        }
      } catch {
        status = 0;
      }
      const record = { body, headers, status };
      this.deliveries.push(record);
      onDelivery?.(record);
      return record;
    })();
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
    return delivery;
  }

  /** Resolves once every delivery in flight has ended, however it ended. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

/** One POST over node:http; resolves with the status (0 when the target could not be reached or timed out). */
function postOverHttp(
  url: string,
  body: string,
  headers: Record<string, string>,
  agent: HttpAgent,
  timeoutMs: number | undefined,
): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
      },
      (res) => {
        res.on('error', () => resolve(0));
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.resume();
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

/** Serves `app` on 127.0.0.1 (`port` 0: any free port). */
export function listen(app: Express, port = 0): Promise<Server> {
  // Express 5 calls the listen callback on 'error' too: wait for 'listening' so a taken port rejects.
  return new Promise<Server>((resolve, reject) => {
    const server = app.listen(port, '127.0.0.1');
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}

export function serverUrl(server: Server | undefined): string {
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
}

/** Closes the server, dropping open (keep-alive) connections rather than waiting for them. */
export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * A vendor's request limit as an emulator enforces it (`rateLimit` option; the benchmark's rate-limit scenario):
 * at most `requestsPerMinute` accepted API calls in any trailing 60 s (a sliding window, the strictest reading of
 * "N requests per minute"). A call over it is refused with the seconds until a slot frees (`Retry-After`); refused
 * calls do not count against the limit.
 */
export class RequestLimit {
  /** Times (ms) of the accepted calls, oldest first, from `head` on. */
  private readonly accepted: number[] = [];
  private head = 0;
  /** Calls refused so far. */
  refused = 0;

  constructor(
    readonly requestsPerMinute: number,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when the call may go ahead (it is counted); otherwise the whole seconds to wait. */
  take(): number | undefined {
    const now = this.now();
    while (this.head < this.accepted.length && this.accepted[this.head]! <= now - this.windowMs) this.head++;
    if (this.head > 4096) {
      this.accepted.splice(0, this.head);
      this.head = 0;
    }
    if (this.accepted.length - this.head < this.requestsPerMinute) {
      this.accepted.push(now);
      return undefined;
    }
    this.refused++;
    return Math.max(1, Math.ceil((this.accepted[this.head]! + this.windowMs - now) / 1000));
  }

  /** Accepted calls left in the current window (the `X-Rate-Limit-Remaining` header). */
  remaining(): number {
    return Math.max(0, this.requestsPerMinute - (this.accepted.length - this.head));
  }
}
