import winston from 'winston';

export type LogFormat = 'json' | 'pretty';

/** Meta keys whose values never reach a log line, whatever the level. */
const SECRET_KEY = /(secret|password|token|authorization|access[-_]?key|api[-_]?key|signature|cookie)/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEY.test(key)) info[key] = '[redacted]';
  }
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
  return winston.createLogger({
    level: options.level,
    format,
    defaultMeta: options.defaultMeta,
    transports: [transport],
  });
}
