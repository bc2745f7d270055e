import { existsSync } from 'node:fs';
import { startBridge } from './app';
import { ConfigError, loadConfig } from './config';
import { errorMessage } from './core/errors';
import { createLogger } from './telemetry/logger';

/** Process entry: load `.env`, validate the configuration, start the bridge, drain on SIGTERM. */
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
    logger.error('unhandled promise rejection', { code: 'UNHANDLED_REJECTION', error: errorMessage(reason) });
  });
  process.on('uncaughtException', (err) => {
    logger.error('uncaught exception; exiting so the supervisor restarts the bridge', {
      code: 'UNCAUGHT',
      error: err.message,
      stack: err.stack,
    });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
  });

  let bridge;
  try {
    bridge = await startBridge(config, logger);
  } catch (err) {
    logger.error('bridge failed to start', { code: 'STARTUP_FAILED', error: errorMessage(err) });
    setTimeout(() => process.exit(1), 200).unref();
    return;
  }

  const shutdown = (signal: string): void => {
    logger.info('shutting down', { signal });
    const deadline = setTimeout(() => {
      logger.error('shutdown took longer than 20 s; exiting', { code: 'SHUTDOWN_TIMEOUT' });
      process.exit(1);
    }, 20_000);
    deadline.unref();
    void bridge.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

void main();
