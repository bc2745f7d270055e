import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BridgeError, PermanentError, RetryableError } from '../../src/core/errors';
import {
  fileName,
  HttpMediaFetcher,
  isForbiddenAddress,
  type MediaFetcherOptions,
} from '../../src/media/fetcher';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local HTTP server whose routes the test sets; records the paths it was asked for. */
class TestServer {
  readonly hits: string[] = [];
  readonly routes = new Map<string, Handler>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<TestServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      self.hits.push(path);
      const route = self.routes.get(path);
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
    const self = new TestServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${(this.server.address() as AddressInfo).port}${path}?sig=SECRET-SIGNATURE`;
  }

  file(path: string, data: Buffer, headers: Record<string, string> = {}): void {
    this.routes.set(path, (_req, res) => {
      res.writeHead(200, { 'content-length': String(data.length), ...headers });
      res.end(data);
    });
  }

  redirect(path: string, location: string, status = 302): void {
    this.routes.set(path, (_req, res) => res.writeHead(status, { location }).end());
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

const PHOTO = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2_000, 7)]);

let server: TestServer;
beforeEach(async () => {
  server = await TestServer.start();
});
afterEach(async () => {
  await server.stop();
});

function fetcher(options: Partial<MediaFetcherOptions> = {}): HttpMediaFetcher {
  return new HttpMediaFetcher({
    maxBytes: 10_000,
    timeoutMs: 2_000,
    allowedHosts: ['127.0.0.1'],
    ...options,
  });
}

async function refusal(work: Promise<unknown>): Promise<BridgeError> {
  try {
    await work;
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    // Media URLs carry signatures: no error message may repeat the query string.
    expect(err.message).not.toContain('SECRET-SIGNATURE');
    return err;
  }
  throw new Error('the download was not refused');
}

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '100.127.255.255',
    '169.254.169.254',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'febf::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    'not-an-ip',
  ])('refuses %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '52.239.1.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
  ])('allows the public address %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(false);
  });
});

describe('HttpMediaFetcher', () => {
  it('downloads a file: bytes, size, the served type and a file name with the right extension', async () => {
    server.file('/media/photo', PHOTO, { 'content-type': 'image/jpeg' });
    const file = await fetcher().fetch({ url: server.url('/media/photo'), mimeType: 'image/jpeg' });
    expect(file).toEqual({ name: 'image.jpg', mimeType: 'image/jpeg', size: PHOTO.length, data: PHOTO });
  });

  it('keeps the LIME type when the server says application/octet-stream (or nothing)', async () => {
    server.file('/a', PHOTO, { 'content-type': 'application/octet-stream' });
    server.file('/b', PHOTO);
    const a = await fetcher().fetch({ url: server.url('/a'), mimeType: 'audio/ogg', name: 'voice' });
    expect([a.mimeType, a.name]).toEqual(['audio/ogg', 'voice.ogg']);
    const b = await fetcher().fetch({
      url: server.url('/b'),
      mimeType: 'application/pdf',
      name: 'boleto.pdf',
    });
    expect([b.mimeType, b.name]).toEqual(['application/pdf', 'boleto.pdf']);
  });

  it('uses the served type when it is a concrete media type', async () => {
    server.file('/p', PHOTO, { 'content-type': 'image/png; charset=binary' });
    const file = await fetcher().fetch({ url: server.url('/p'), mimeType: 'image/jpeg' });
    expect(file.mimeType).toBe('image/png');
    expect(file.name).toBe('image.png');
  });

  it.each([
    ['text/html; charset=utf-8', 'image/jpeg'],
    ['application/xhtml+xml', 'application/pdf'],
    ['image/svg+xml', 'image/svg+xml'],
    ['text/plain', 'image/jpeg'],
    ['*/*', 'image/jpeg'],
  ])('refuses a response served as %s for a %s', async (served, declared) => {
    server.file('/page', Buffer.from('<html>login</html>'), { 'content-type': served });
    const err = await refusal(fetcher().fetch({ url: server.url('/page'), mimeType: declared }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('MEDIA_BAD_TYPE');
  });

  it('refuses loopback when the host is not on the allow-list, before connecting', async () => {
    server.file('/photo', PHOTO, { 'content-type': 'image/jpeg' });
    const err = await refusal(
      fetcher({ allowedHosts: [] }).fetch({ url: server.url('/photo'), mimeType: 'image/jpeg' }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('MEDIA_FORBIDDEN_ADDRESS');
    expect(server.hits).toEqual([]);
  });

  it('refuses a public-looking host that resolves to a private address, or to any private address among others', async () => {
    const resolve = jest.fn(async (host: string) =>
      host === 'cdn.example'
        ? [{ address: '10.0.0.5', family: 4 }]
        : [
            { address: '52.239.1.1', family: 4 },
            { address: '169.254.169.254', family: 4 },
          ],
    );
    const f = fetcher({ allowedHosts: [], resolve });
    expect((await refusal(f.fetch({ url: 'https://cdn.example/x.jpg', mimeType: 'image/jpeg' }))).code).toBe(
      'MEDIA_FORBIDDEN_ADDRESS',
    );
    expect(
      (await refusal(f.fetch({ url: 'https://mixed.example/x.jpg', mimeType: 'image/jpeg' }))).code,
    ).toBe('MEDIA_FORBIDDEN_ADDRESS');
  });

  it.each([
    'http://[64:ff9b::7f00:1]/x.jpg',
    'http://[64:ff9b:1::a00:1]/x.jpg',
    'http://[2002:7f00:1::1]/x.jpg',
    'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x.jpg',
    'http://[100::7f00:1]/x.jpg',
    'http://[fec0::1]/x.jpg',
    'http://[::7f00:1]/x.jpg',
    'http://[::ffff:0:a9fe:a9fe]/x.jpg',
  ])(
    'refuses %s (an IPv4 address embedded in IPv6, or a non-public IPv6 range) before connecting',
    async (url) => {
      const err = await refusal(fetcher({ allowedHosts: [] }).fetch({ url, mimeType: 'image/jpeg' }));
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.code).toBe('MEDIA_FORBIDDEN_ADDRESS');
    },
  );

  it('connects to the address it checked (pinned), whatever name the URL has', async () => {
    server.file('/photo', PHOTO, { 'content-type': 'image/jpeg' });
    // `media.invalid` does not exist in DNS: the download works only because the checked address is used.
    const resolve = jest.fn(async () => [{ address: '127.0.0.1', family: 4 }]);
    const f = fetcher({ allowedHosts: ['media.invalid'], resolve });
    const file = await f.fetch({ url: server.url('/photo', 'media.invalid'), mimeType: 'image/jpeg' });
    expect(file.data.equals(PHOTO)).toBe(true);
    expect(resolve).toHaveBeenCalledTimes(1);
  });

  it('refuses a redirect to a private address the allow-list does not cover', async () => {
    server.file('/internal', PHOTO, { 'content-type': 'image/jpeg' });
    server.redirect('/start', server.url('/internal', 'localhost'));
    const err = await refusal(fetcher().fetch({ url: server.url('/start'), mimeType: 'image/jpeg' }));
    expect(err.code).toBe('MEDIA_FORBIDDEN_ADDRESS');
    expect(server.hits).toEqual(['/start']);
  });

  it('refuses a redirect to another scheme', async () => {
    server.redirect('/start', 'file:///etc/passwd');
    expect((await refusal(fetcher().fetch({ url: server.url('/start'), mimeType: 'image/jpeg' }))).code).toBe(
      'MEDIA_BAD_URL',
    );
  });

  it.each(['file:///etc/passwd', 'ftp://127.0.0.1/x.jpg', 'gopher://127.0.0.1:6379/_INFO', 'not a url'])(
    'refuses the link %s',
    async (url) => {
      expect((await refusal(fetcher().fetch({ url, mimeType: 'image/jpeg' }))).code).toBe('MEDIA_BAD_URL');
    },
  );

  it('follows up to 3 redirects (relative ones included) and refuses a 4th', async () => {
    server.file('/file', PHOTO, { 'content-type': 'image/jpeg' });
    server.redirect('/r3', '/file', 307);
    server.redirect('/r2', server.url('/r3'), 301);
    server.redirect('/r1', '/r2');
    server.redirect('/r0', '/r1');
    const file = await fetcher().fetch({ url: server.url('/r1'), mimeType: 'image/jpeg' });
    expect(file.data.equals(PHOTO)).toBe(true);
    const err = await refusal(fetcher().fetch({ url: server.url('/r0'), mimeType: 'image/jpeg' }));
    expect(err.code).toBe('MEDIA_TOO_MANY_REDIRECTS');
    expect(server.hits.filter((p) => p === '/file')).toHaveLength(1);
  });

  it('refuses a file whose LIME size is over the cap without downloading it', async () => {
    server.file('/big', PHOTO, { 'content-type': 'image/jpeg' });
    const err = await refusal(
      fetcher({ maxBytes: 1_000 }).fetch({ url: server.url('/big'), mimeType: 'image/jpeg', size: 1_001 }),
    );
    expect(err.code).toBe('MEDIA_TOO_LARGE');
    expect(server.hits).toEqual([]);
  });

  it('refuses a Content-Length over the cap', async () => {
    server.file('/big', Buffer.alloc(10_001), { 'content-type': 'image/jpeg' });
    const err = await refusal(fetcher().fetch({ url: server.url('/big'), mimeType: 'image/jpeg' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('MEDIA_TOO_LARGE');
  });

  it('stops streaming a body without Content-Length once it passes the cap', async () => {
    let written = 0;
    let closed = false;
    server.routes.set('/stream', (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4' });
      // Up to 1 MB in 4 KB chunks, one every few milliseconds, until the client hangs up.
      const timer = setInterval(() => {
        if (closed || written >= 1_048_576) return void (clearInterval(timer), res.end());
        written += 4_096;
        res.write(Buffer.alloc(4_096));
      }, 2);
      res.on('close', () => {
        closed = true;
        clearInterval(timer);
      });
    });
    const err = await refusal(fetcher().fetch({ url: server.url('/stream'), mimeType: 'video/mp4' }));
    expect(err.code).toBe('MEDIA_TOO_LARGE');
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
    expect(written).toBeLessThan(1_048_576);
  });

  it('accepts a file of exactly the cap', async () => {
    server.file('/exact', Buffer.alloc(10_000, 1), { 'content-type': 'application/pdf' });
    const file = await fetcher().fetch({ url: server.url('/exact'), mimeType: 'application/pdf' });
    expect(file.size).toBe(10_000);
  });

  it('gives up on a server that never answers after the total timeout (retryable)', async () => {
    server.routes.set('/slow', () => {
      /* never answers */
    });
    const started = Date.now();
    const err = await refusal(
      fetcher({ timeoutMs: 300 }).fetch({ url: server.url('/slow'), mimeType: 'image/jpeg' }),
    );
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.code).toBe('MEDIA_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('gives up on a body that trickles past the total timeout', async () => {
    server.routes.set('/trickle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': '1000' });
      const timer = setInterval(() => res.write(Buffer.alloc(1)), 50);
      res.on('close', () => clearInterval(timer));
    });
    const err = await refusal(
      fetcher({ timeoutMs: 300 }).fetch({ url: server.url('/trickle'), mimeType: 'image/jpeg' }),
    );
    expect(err.code).toBe('MEDIA_TIMEOUT');
  });

  it('maps statuses: 404 (expired link) is permanent, 503 is retryable', async () => {
    server.routes.set('/down', (_req, res) => res.writeHead(503).end());
    const gone = await refusal(fetcher().fetch({ url: server.url('/expired'), mimeType: 'image/jpeg' }));
    expect(gone).toBeInstanceOf(PermanentError);
    expect(gone.code).toBe('MEDIA_HTTP_404');
    const down = await refusal(fetcher().fetch({ url: server.url('/down'), mimeType: 'image/jpeg' }));
    expect(down).toBeInstanceOf(RetryableError);
    expect(down.code).toBe('MEDIA_HTTP_503');
  });

  it('treats a refused connection as retryable', async () => {
    const url = server.url('/gone');
    await server.stop();
    const err = await refusal(fetcher().fetch({ url, mimeType: 'image/jpeg' }));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.code).toBe('MEDIA_UNREACHABLE');
    server = await TestServer.start();
  });
});

describe('fileName', () => {
  const url = new URL('https://blipmediastore.blob.core.windows.net/secure-medias/Media_8d04?sig=x');
  it.each([
    [{ name: 'boleto.pdf' }, 'application/pdf', undefined, 'boleto.pdf'],
    [{ name: 'Foto do boleto' }, 'image/jpeg', undefined, 'Foto do boleto.jpg'],
    [{}, 'image/jpeg', undefined, 'image.jpg'],
    [{}, 'application/pdf', undefined, 'file.pdf'],
    [{ name: '  ' }, 'audio/ogg', 'attachment; filename="nota.ogg"', 'nota.ogg'],
    [{ name: '../../etc/passwd' }, 'text/plain', undefined, '.._.._etc_passwd.txt'],
  ])('names %j of type %s', (attachment, mimeType, disposition, expected) => {
    expect(fileName(attachment, mimeType, url, disposition)).toBe(expected);
  });

  it('uses the URL file name when it has an extension', () => {
    expect(fileName({}, 'image/png', new URL('https://cdn.example/a/screen%20shot.png?x=1'))).toBe(
      'screen shot.png',
    );
  });
});
