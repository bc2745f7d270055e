/**
 * Agents' files re-hosted by the bridge: signed, expiring links (src/media/host.ts), the bytes in a bounded store
 * with a TTL (src/media/blob-store.ts), and `GET /media/<token>` (src/http/media-route.ts).
 */
import { PermanentError } from '../../src/core/errors';
import type { MediaFile } from '../../src/core/model';
import { contentDisposition } from '../../src/http/media-route';
import { buildHttpServer } from '../../src/http/server';
import { decodeBlob, encodeBlob, MemoryBlobStore } from '../../src/media/blob-store';
import { SignedMediaHost } from '../../src/media/host';
import { captureLogs } from '../helpers/log-capture';

const ID = '6f1d2c3b-4a5e-5f60-8a7b-8c9d0e1f2a3b';
const pdf = (size = 1_000): MediaFile => {
  const data = Buffer.alloc(size, 7);
  data.write('%PDF-1.7');
  return { name: 'boleto março.pdf', mimeType: 'application/pdf', size, data };
};

function setup(options: { now?: () => Date; ttlMs?: number; maxBytes?: number } = {}) {
  let now = new Date('2026-11-03T14:00:00Z');
  const clock = options.now ?? (() => now);
  const store = new MemoryBlobStore(64 * 1024, () => clock().getTime());
  const host = new SignedMediaHost(store, {
    publicUrl: 'https://bridge.acme.com.br/blip/',
    secret: 'a-long-media-link-secret',
    ttlMs: options.ttlMs ?? 3_600_000,
    maxBytes: options.maxBytes ?? 10_000,
    now: clock,
  });
  return { host, store, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

const tokenOf = (url: string) => url.split('/media/')[1]!;

describe('SignedMediaHost', () => {
  it('publishes under the public URL and opens the same bytes, type and name', async () => {
    const { host } = setup();
    const url = await host.publish(ID, pdf());
    expect(url).toMatch(
      /^https:\/\/bridge\.acme\.com\.br\/blip\/media\/[A-Za-z0-9-]+\.\d+\.[A-Za-z0-9_-]{43}$/,
    );
    const found = await host.open(tokenOf(url));
    expect(found).toMatchObject({ ok: true, expiresAt: new Date('2026-11-03T15:00:00Z') });
    if (!found.ok) throw new Error('not found');
    expect(found.file).toEqual({ ...pdf(), size: 1_000 });
  });

  it('refuses a token whose id, expiry or signature was changed, or that is not a token', async () => {
    const { host } = setup();
    const token = tokenOf(await host.publish(ID, pdf()));
    const [id, expires, signature] = token.split('.') as [string, string, string];
    const otherId = `${id.slice(0, -1)}${id.endsWith('a') ? 'b' : 'a'}`;
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    expect(await host.open(`${otherId}.${expires}.${signature}`)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(await host.open(`${id}.${Number(expires) + 3600}.${signature}`)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(await host.open(`${id}.${expires}.${flipped}`)).toEqual({ ok: false, reason: 'bad-signature' });
    for (const bad of ['', 'x', `${id}.${expires}`, `${id}.${expires}.${signature}.x`, '../../etc/passwd']) {
      expect(await host.open(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
    // Another bridge's secret does not open this one's links.
    const other = new SignedMediaHost(new MemoryBlobStore(), {
      publicUrl: 'https://bridge.acme.com.br',
      secret: 'another-media-link-secret',
      ttlMs: 3_600_000,
      maxBytes: 10_000,
    });
    expect(await other.open(token)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('stops serving once the link expired, and answers gone when the bytes are not there', async () => {
    const { host, advance } = setup({ ttlMs: 60_000 });
    const token = tokenOf(await host.publish(ID, pdf()));
    advance(59_000);
    expect((await host.open(token)).ok).toBe(true);
    advance(1_000);
    expect(await host.open(token)).toEqual({ ok: false, reason: 'expired' });

    const fresh = setup();
    const ghost = tokenOf(await fresh.host.publish(ID, pdf()));
    const elsewhere = setup(); // same secret, an empty store: a link for bytes it never had
    expect(await elsewhere.host.open(ghost)).toEqual({ ok: false, reason: 'gone' });
  });

  it('refuses files over the cap and types it must never serve from its own origin', async () => {
    const { host } = setup({ maxBytes: 500 });
    await expect(host.publish(ID, pdf(501))).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' });
    const page = { name: 'x.html', mimeType: 'text/html', size: 4, data: Buffer.from('<b>') };
    await expect(host.publish(ID, page)).rejects.toBeInstanceOf(PermanentError);
    await expect(host.publish(ID, { ...page, mimeType: 'image/svg+xml' })).rejects.toMatchObject({
      code: 'MEDIA_BAD_TYPE',
    });
    await expect(host.publish('../x', pdf(10))).rejects.toMatchObject({ code: 'MEDIA_BAD_ID' });
  });

  it('publishing the same id again replaces the file (a retry leaves one copy)', async () => {
    const { host, store } = setup();
    await host.publish(ID, pdf(2_000));
    await host.publish(ID, pdf(3_000));
    expect(store.bytes).toBe(3_000);
  });
});

describe('MemoryBlobStore', () => {
  it('keeps at most its byte budget, dropping the oldest first, and sweeps expired files', async () => {
    let now = 0;
    const store = new MemoryBlobStore(5_000, () => now);
    await store.put('a', pdf(2_000), 10_000);
    await store.put('b', pdf(2_000), 60_000);
    await store.put('c', pdf(2_000), 60_000);
    expect(await store.get('a')).toBeUndefined();
    expect((await store.get('b'))?.size).toBe(2_000);
    expect(store.bytes).toBe(4_000);
    now = 60_000;
    expect(await store.get('b')).toBeUndefined();
    await store.put('d', pdf(1_000), 1_000);
    expect(store.bytes).toBe(1_000);
    await expect(store.put('e', pdf(6_000), 1_000)).rejects.toMatchObject({ code: 'MEDIA_TOO_LARGE' });
  });

  it('round-trips a file through the stored encoding, and rejects damaged values', () => {
    const file = pdf(300);
    expect(decodeBlob(encodeBlob(file))).toEqual(file);
    expect(decodeBlob(Buffer.alloc(2))).toBeUndefined();
    expect(decodeBlob(Buffer.from([0, 0, 1, 0, 1, 2]))).toBeUndefined();
    const notJson = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{x')]);
    expect(decodeBlob(notJson)).toBeUndefined();
  });
});

describe('GET /media/<token>', () => {
  async function serve() {
    const { host, advance } = setup({ ttlMs: 60_000 });
    const logs = captureLogs();
    // The bridge's own HTTP server (its routing limits included), with nothing but the media host.
    const app = buildHttpServer({
      adapters: [],
      intake: { acceptHelpdeskEvents: async () => 0 },
      logger: logs.logger,
      bodyLimitBytes: 1_000,
      maxSkewSeconds: 300,
      readiness: async () => ({ ready: true, checks: {} }),
      media: host,
    });
    // A real server on a free port (light-my-request's inject does not load under jest here).
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const get = async (path: string, method = 'GET') => {
      const res = await fetch(`${base}${path}`, { method });
      return {
        statusCode: res.status,
        headers: Object.fromEntries(res.headers),
        body: Buffer.from(await res.arrayBuffer()),
      };
    };
    return { app, host, logs, advance, get };
  }

  it('serves the file with its type, length, a safe disposition and no sniffing', async () => {
    const { app, host, get } = await serve();
    const token = tokenOf(await host.publish(ID, pdf()));
    const res = await get(`/media/${token}`);
    expect(res.statusCode).toBe(200);
    expect(res.body.equals(pdf().data)).toBe(true);
    expect(res.headers).toMatchObject({
      'content-type': 'application/pdf',
      'content-length': '1000',
      'content-disposition': `inline; filename="boleto mar_o.pdf"; filename*=UTF-8''boleto%20mar%C3%A7o.pdf`,
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
    });
    const head = await get(`/media/${token}`, 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('1000');
    await app.close();
  });

  it('serves a file published under the longest id the host takes (a token over 100 characters)', async () => {
    const { app, host, get } = await serve();
    const token = tokenOf(await host.publish('f'.repeat(80), pdf()));
    expect(token.length).toBeGreaterThan(100);
    expect((await get(`/media/${token}`)).statusCode).toBe(200);
    await app.close();
  });

  it('answers 404 to a forged token and 410 to an expired one, never logging the token', async () => {
    const { app, host, logs, advance, get } = await serve();
    const token = tokenOf(await host.publish(ID, pdf()));
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect((await get(`/media/${forged}`)).statusCode).toBe(404);
    expect((await get('/media/nothing-here')).statusCode).toBe(404);
    advance(61_000);
    expect((await get(`/media/${token}`)).statusCode).toBe(410);
    expect(logs.lines().map((l) => l.code)).toEqual([
      'MEDIA_LINK_INVALID',
      'MEDIA_LINK_INVALID',
      'MEDIA_LINK_GONE',
    ]);
    expect(logs.text()).not.toContain(token.split('.')[2]!);
    await app.close();
  });

  it('offers anything but images, audio, video and PDF as a download', () => {
    expect(contentDisposition('image/png', 'a.png')).toMatch(/^inline;/);
    expect(contentDisposition('application/zip', 'a.zip')).toMatch(/^attachment;/);
    expect(contentDisposition('text/plain', 'a"b\\c.txt')).toBe(
      `attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b%5Cc.txt`,
    );
  });
});
