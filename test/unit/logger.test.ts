import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/telemetry/logger';

function capture(level: string) {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  const logger = createLogger({ level, format: 'json', stream, defaultMeta: { service: 'bridge' } });
  return { logger, lines, flush: () => new Promise((resolve) => setImmediate(resolve)) };
}

describe('createLogger', () => {
  it('writes the enabled levels with the default meta, drops the others, and follows a level change', async () => {
    const { logger, lines, flush } = capture('info');
    logger.debug('not written', { a: 1 });
    logger.info('written', { a: 2 });
    logger.warn('also written');
    await flush();
    expect(lines.map((l) => [l.level, l.message, l.service])).toEqual([
      ['info', 'written', 'bridge'],
      ['warn', 'also written', 'bridge'],
    ]);
    logger.level = 'debug';
    logger.debug('now written', { a: 3 });
    await flush();
    expect(lines.at(-1)).toMatchObject({ level: 'debug', message: 'now written', a: 3 });
  });

  it('never writes a secret-looking meta value', async () => {
    const { logger, lines, flush } = capture('info');
    logger.info('calling the API', { apiToken: 'abc', authorization: 'Basic xyz', ticket: '42' });
    await flush();
    expect(lines[0]).toMatchObject({ apiToken: '[redacted]', authorization: '[redacted]', ticket: '42' });
  });
});

describe('redaction (issue 17.12)', () => {
  it('redacts secret-looking keys at any depth, in objects and arrays', async () => {
    const { logger, lines, flush } = capture('info');
    logger.warn('vendor call failed', {
      request: { headers: { authorization: 'Bearer sk-live-1', 'x-hub-signature': 'sha1=abc' } },
      attempts: [{ config: { auth: { password: 'hunter2' } } }, { apiKey: 'k-123' }],
      ticket: '42',
    });
    await flush();
    const text = JSON.stringify(lines[0]);
    for (const secret of ['sk-live-1', 'sha1=abc', 'hunter2', 'k-123']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      request: { headers: { authorization: '[redacted]', 'x-hub-signature': '[redacted]' } },
      attempts: [{ config: { auth: { password: '[redacted]' } } }, { apiKey: '[redacted]' }],
      ticket: '42',
    });
  });

  it('redacts secrets in URLs: query parameters, fragments and userinfo, in meta and in the message', async () => {
    const { logger, lines, flush } = capture('info');
    logger.warn('download failed for https://cdn.example/a.jpg?access_token=AT-1&size=2&sig=SIG-2', {
      url: 'https://files.example/x?X-Amz-Signature=SIG-3&X-Amz-Credential=CR-4&id=7',
      nested: { links: ['http://user:PW-5@internal.example:8080/path?apiKey=K-6#token=T-7'] },
      path: '/webhooks/zendesk?secret=S-8&password=P-9&keep=yes',
      redis: 'rediss://default:PW-10@redis.example:6380/0',
    });
    await flush();
    const text = JSON.stringify(lines[0]);
    for (const secret of ['AT-1', 'SIG-2', 'SIG-3', 'CR-4', 'PW-5', 'K-6', 'T-7', 'S-8', 'P-9', 'PW-10']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]!.message).toBe(
      'download failed for https://cdn.example/a.jpg?access_token=[redacted]&size=2&sig=[redacted]',
    );
    expect(lines[0]).toMatchObject({
      url: 'https://files.example/x?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&id=7',
      nested: { links: ['http://[redacted]@internal.example:8080/path?apiKey=[redacted]#token=[redacted]'] },
      path: '/webhooks/zendesk?secret=[redacted]&password=[redacted]&keep=yes',
      redis: 'rediss://[redacted]@redis.example:6380/0',
    });
  });

  it('leaves ordinary text, e-mail addresses and harmless parameters alone', async () => {
    const { logger, lines, flush } = capture('info');
    const meta = {
      note: 'a ticket for maria@example.com: is it ok? yes=no',
      link: 'https://acme.zendesk.com/agent/tickets/42?page=2&sort=desc',
      keyboard: 'monkey=1',
    };
    logger.info('plain', meta);
    await flush();
    expect(lines[0]).toMatchObject(meta);
  });

  it('survives cycles and very deep values without writing what lies past the depth bound', async () => {
    const { logger, lines, flush } = capture('info');
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { token: 'DEEP-SECRET' };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    logger.warn('odd values', { cyclic, deep });
    await flush();
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('DEEP-SECRET');
    expect(lines[0]).toMatchObject({ cyclic: { name: 'a', self: '[circular]' } });
    expect(text).toContain('[too deep]');
  });

  it('never changes the objects the caller logged', async () => {
    const { logger, flush } = capture('info');
    const headers = { authorization: 'Bearer keep-me' };
    const links = ['https://x.example/?token=keep-me-too'];
    logger.warn('x', { request: { headers }, links });
    await flush();
    expect(headers.authorization).toBe('Bearer keep-me');
    expect(links[0]).toBe('https://x.example/?token=keep-me-too');
  });

  it('redacts what an error object carries (axios-like toJSON with the request config)', async () => {
    const { logger, lines, flush } = capture('info');
    const error = Object.assign(new Error('Request failed with status code 401'), {
      toJSON: () => ({
        message: 'Request failed with status code 401',
        config: { url: 'https://api.example/v1?api_key=AK-1', headers: { Authorization: 'Basic QUJD' } },
      }),
    });
    logger.warn('failed', { error });
    await flush();
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('AK-1');
    expect(text).not.toContain('QUJD');
    expect(text).toContain('Request failed with status code 401');
  });
});
