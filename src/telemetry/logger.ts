import winston from 'winston';
import { redactEntry } from './redact';

export type LogFormat = 'json' | 'pretty';

/** Secrets never reach a log line, whatever the level: secret-named keys at any depth, and secrets in URLs. */
const redact = winston.format((info) => {
  redactEntry(info as Record<string, unknown>);
  return info;
});

export interface LoggerOptions {
  level: string;
  format: LogFormat;
  /** Fixed fields on every line (service name, instance id). */
  defaultMeta?: Record<string, unknown>;
  /** Tests pass a stream to read what was logged. */
  stream?: NodeJS.WritableStream;
}

/** JSON lines in production (one object per line for log shippers); coloured single lines in a terminal. */
export function createLogger(options: LoggerOptions): winston.Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(
          redact(),
          winston.format.timestamp(),
          winston.format.errors({ stack: true }),
          winston.format.json(),
        )
      : winston.format.combine(
          redact(),
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
            return `${String(timestamp)} ${level} ${String(message)}${rest}`;
          }),
        );
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console({ stderrLevels: ['error', 'warn'] });
  const logger = winston.createLogger({
    level: options.level,
    format,
    defaultMeta: options.defaultMeta,
    transports: [transport],
  });
  skipDisabledLevels(logger);
  return logger;
}

/**
 * winston builds the log entry and writes it through its stream even for a level that is off, only to drop it
 * there: with debug lines on every message, that was a visible share of the bridge's CPU (`npm run bench`). A
 * call at a disabled level now returns at once; the level can still change at run time (`logger.level = …`).
 */
function skipDisabledLevels(logger: winston.Logger): void {
  for (const level of ['error', 'warn', 'info', 'debug'] as const) {
    const log = logger[level].bind(logger) as (...args: unknown[]) => winston.Logger;
    logger[level] = ((...args: unknown[]) =>
      logger.isLevelEnabled(level) ? log(...args) : logger) as winston.LeveledLogMethod;
  }
}
