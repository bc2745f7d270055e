import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/telemetry/logger';

export interface CapturedLogs {
  logger: ReturnType<typeof createLogger>;
  /** Every JSON log line so far. */
  lines(): Array<Record<string, unknown> & { level: string; message: string }>;
  /** The raw text of every line so far. */
  text(): string;
}

/** A real winston logger (JSON format) whose output the test can read. */
export function captureLogs(level = 'debug'): CapturedLogs {
  const stream = new PassThrough();
  let buffer = '';
  stream.on('data', (chunk: Buffer) => (buffer += chunk.toString()));
  const logger = createLogger({ level, format: 'json', stream });
  return {
    logger,
    text: () => buffer,
    lines: () =>
      buffer
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown> & { level: string; message: string }),
  };
}
