/**
 * A headless Chromium for browser tests, without a browser download: `@sparticuz/chromium` (a dev dependency; a
 * Linux x64 build shipped inside the npm package), else CHROMIUM_PATH or Debian's /usr/bin/chromium (see
 * ./requirements). The npm build is made for Amazon Linux: off it, the libraries it needs that a bare machine may
 * lack (NSS, NSPR, expat) come from the same package's `al2023.tar.br`, unpacked once and put on LD_LIBRARY_PATH,
 * so it runs on a machine where no browser was ever installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { CHROMIUM, sparticuzChromiumAvailable } from './requirements';

export interface ChromiumLaunch {
  executablePath: string;
  args: string[];
  env: Record<string, string | undefined>;
  /** Where it came from, for the test's own log. */
  source: string;
}

/** What keeps Chromium off this machine's closed network (each lookup would be refused, many at a time). */
const QUIET = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function unpackLibraries(binDir: string): string {
  const target = path.join(tmpdir(), 'bhb-chromium-al2023');
  if (!existsSync(path.join(target, 'lib', 'libnss3.so'))) {
    const partial = mkdtempSync(`${target}-`);
    const tar = path.join(partial, 'al2023.tar');
    writeFileSync(tar, brotliDecompressSync(readFileSync(path.join(binDir, 'al2023.tar.br'))));
    execFileSync('tar', ['-xf', tar, '-C', partial]);
    rmSync(tar);
    rmSync(target, { recursive: true, force: true });
    renameSync(partial, target);
  }
  return path.join(target, 'lib');
}

interface SparticuzChromium {
  readonly args: string[];
  executablePath(): Promise<string>;
}

export async function chromiumLaunch(): Promise<ChromiumLaunch> {
  if (sparticuzChromiumAvailable()) {
    // The package's CommonJS build exports the Chromium class itself (its types describe the ES module).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Chromium = require('@sparticuz/chromium') as SparticuzChromium;
    const executablePath = await Chromium.executablePath();
    const binDir = path.join(path.dirname(require.resolve('@sparticuz/chromium')), '..', '..', 'bin');
    const libs = unpackLibraries(binDir);
    const ld = [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    return {
      executablePath,
      args: [...Chromium.args, ...QUIET],
      env: { ...process.env, LD_LIBRARY_PATH: ld },
      source: '@sparticuz/chromium',
    };
  }
  if (!CHROMIUM.found) throw new Error(`Chromium: ${CHROMIUM.missing}; install: ${CHROMIUM.install}`);
  return {
    executablePath: CHROMIUM.found,
    args: ['--headless', ...QUIET],
    env: { ...process.env },
    source: CHROMIUM.found,
  };
}
