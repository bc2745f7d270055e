import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The read-only reference material shared with the project (/work/shared from /work/main/test/helpers). */
const SHARED_ROOT = path.resolve(__dirname, '../../../shared');

/** Absolute path of a file under `shared/`, e.g. `fixtures/lime/01-inbound-text-whatsapp.json`. */
export function fixturePath(rel: string): string {
  return path.join(SHARED_ROOT, rel);
}

/** The exact bytes of a fixture (signatures are computed over these). */
export function readFixture(rel: string): Buffer {
  return readFileSync(fixturePath(rel));
}

export function readJsonFixture<T = unknown>(rel: string): T {
  return JSON.parse(readFixture(rel).toString('utf8')) as T;
}
