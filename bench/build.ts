/**
 * The system under test runs as compiled JavaScript with plain `node`, as in production (`npm start` runs
 * dist/main.js), not through tsx: tsx's loader costs memory and start-up time that are not the bridge's. The
 * sources (bench/sut.ts and what it imports from src/) are compiled without type checking (`npm run typecheck`
 * does that) into node_modules/.cache/bhb-bench, where Node still finds the project's node_modules.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const BUILD_DIR = path.join(ROOT, 'node_modules', '.cache', 'bhb-bench');

/** Compiles the system under test; returns the path of its entry point. */
export function buildSut(): string {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(__dirname, 'tsconfig.sut.json'),
      '--outDir',
      BUILD_DIR,
      '--noCheck',
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return path.join(BUILD_DIR, 'bench', 'sut.js');
}
