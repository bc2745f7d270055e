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
