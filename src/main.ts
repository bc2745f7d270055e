import { existsSync } from 'node:fs';
import { SHUTDOWN_BUDGET_MS, startBridge } from './app';
import { ConfigError, loadConfig } from './config';
import { describeError } from './core/errors';
import { createLogger } from './telemetry/logger';

/**
 * Process entry: load `.env`, validate the configuration, start the bridge, drain on SIGTERM.
 *
 * Exit codes a supervisor can act on: 2 = invalid settings (one message naming every bad key, on stderr); 1 = the
 * bridge could not start (BLiP unreachable or refusing the key, Redis unreachable: one line saying what and why),
 * an uncaught exception, or a shutdown over its budget; 0 = stopped by SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig(process.env, Boolean(process.stdout.isTTY));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    defaultMeta: { service: 'blip-helpdesk-bridge' },
  });

  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled promise rejection', {
      code: 'UNHANDLED_REJECTION',
      error: describeError(reason),
    });
  });
  process.on('uncaughtException', (err) => {
    logger.error('uncaught exception; exiting so the supervisor restarts the bridge', {
      code: 'UNCAUGHT',
      error: describeError(err),
      stack: err.stack,
    });
    exit(1);
  });

  let bridge;
  try {
    bridge = await startBridge(config, logger);
  } catch (err) {
    // One line: what failed and why (the server's own reason for a refused session, never [object Object]).
    logger.error(`bridge failed to start: ${describeError(err)}`, {
      code: 'STARTUP_FAILED',
      failure: (err as { code?: unknown }).code,
    });
    exit(1);
    return;
  }

  const shutdown = (signal: string): void => {
    const budgetMs = config.http.drainDelayMs + SHUTDOWN_BUDGET_MS;
    logger.info('shutting down', { signal, budgetMs });
    const deadline = setTimeout(() => {
      logger.error(`shutdown took longer than ${budgetMs / 1000} s; exiting`, { code: 'SHUTDOWN_TIMEOUT' });
      process.exit(1);
    }, budgetMs);
    deadline.unref();
    void bridge.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/**
 * Exits with `code` once the log lines are written. `process.exitCode` makes the code stick whatever ends the
 * process: setting only a timer that is `unref()`ed (as before) let the event loop empty first, and the process
 * exited 0. The timer is the backstop when something still holds the loop.
 */
function exit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2_000).unref();
}

void main();
