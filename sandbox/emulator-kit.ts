/**
 * Plumbing the vendor emulators share: serving the app, recording API requests, injected faults, and posting
 * webhooks. What makes a vendor a vendor (auth, response shapes, signatures, event bodies) stays in its emulator.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, Request, RequestHandler } from 'express';
import type { RecordedApiCall, WebhookDelivery } from './vendor-emulator';

/** An API request the emulator received; `status` is filled in once the response is sent. */
export interface RecordedRequest extends RecordedApiCall {
  at: Date;
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

/** `failNext` bookkeeping: each queued fault answers the next `count` API calls. */
export class FaultQueue {
  private readonly faults: Array<Fault & { remaining: number }> = [];

  add(count: number, status: number, headers: Record<string, string> = {}): void {
    this.faults.push({ status, headers, remaining: count });
  }

  /** The fault this API call must answer with, if any (it counts as one of the fault's calls). */
  take(): Fault | undefined {
    const fault = this.faults[0];
    if (fault && --fault.remaining <= 0) this.faults.shift();
    return fault;
  }
}

/**
 * Posts webhooks and records each delivery in `deliveries` (status 0 when the target is unreachable), keeping
 * the ones still in flight so `settle()` can wait for them.
 */
export class WebhookSender {
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly deliveries: WebhookDelivery[],
    private readonly options: { timeoutMs?: number; onDelivery?: (delivery: WebhookDelivery) => void } = {},
  ) {}

  post(url: string | undefined, body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    if (!url) return Promise.reject(new Error('the emulator has no webhook target'));
    const { timeoutMs, onDelivery } = this.options;
    const delivery = (async () => {
      let status = 0;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
        });
        status = response.status;
        await response.arrayBuffer();
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
