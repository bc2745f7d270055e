/**
 * A local media store, like BLiP's (blipmediastore.blob.core.windows.net): serves the files customers "send", at
 * signed-looking URLs, so the bridge downloads a real file. Counts the downloads; can be slow or lie about sizes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MediaEntry {
  data: Buffer;
  /** Content-Type served; omitted means no header at all. */
  contentType?: string;
  /** false: no Content-Length (chunked), so only the streamed size can reveal a big file. */
  contentLength?: boolean;
  /** Wait this long before answering. */
  delayMs?: number;
}

export class MediaServer {
  /** Downloads per path. */
  readonly hits = new Map<string, number>();
  private readonly files = new Map<string, MediaEntry>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<MediaServer> {
    // The handler runs only for requests, after `self` exists.
    const server = createServer((req, res) => self.handle(req.url ?? '/', res));
    const self = new MediaServer(server);
    await new Promise<void>((resolve, reject) => {
      server.listen(0, '127.0.0.1', resolve);
      server.once('error', reject);
    });
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Publishes a file and returns its URL, with a query string shaped like BLiP's signed media URLs.
   * `host` is the host name written in the URL (default 127.0.0.1; `localhost` is the same server under a name
   * the bridge's allow-list does not cover).
   */
  add(entry: MediaEntry, host = '127.0.0.1'): string {
    const path = `/secure-medias/Media_${randomUUID()}`;
    this.files.set(path, entry);
    const expires = new Date(Date.now() + 30 * 60_000).toISOString();
    return `http://${host}:${this.port}${path}?sv=2023-11-03&se=${encodeURIComponent(expires)}&sr=b&sp=r&sig=${randomUUID()}`;
  }

  downloads(url: string): number {
    return this.hits.get(new URL(url).pathname) ?? 0;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(rawUrl: string, res: import('node:http').ServerResponse): void {
    const path = new URL(rawUrl, 'http://x').pathname;
    const entry = this.files.get(path);
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    if (!entry) {
      res
        .writeHead(404, { 'content-type': 'application/xml' })
        .end('<Error><Code>BlobNotFound</Code></Error>');
      return;
    }
    const send = () => {
      const headers: Record<string, string> = {};
      if (entry.contentType) headers['content-type'] = entry.contentType;
      if (entry.contentLength !== false) headers['content-length'] = String(entry.data.length);
      res.writeHead(200, headers);
      res.end(entry.data);
    };
    if (entry.delayMs) setTimeout(send, entry.delayMs).unref();
    else send();
  }
}
