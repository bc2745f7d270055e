import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The fixtures are a byte-for-byte copy of the team's shared reference fixtures (test/fixtures/README.md), kept in
 * the repository so `npm test` passes on any fresh clone. `rel` keeps the shared layout: `fixtures/lime/01-….json`.
 */
const TEST_ROOT = path.resolve(__dirname, '..');

/** Absolute path of a fixture, e.g. `fixtures/lime/01-inbound-text-whatsapp.json`. */
export function fixturePath(rel: string): string {
  return path.join(TEST_ROOT, rel);
}

/** The exact bytes of a fixture (signatures are computed over these). */
export function readFixture(rel: string): Buffer {
  return readFileSync(fixturePath(rel));
}

export function readJsonFixture<T = unknown>(rel: string): T {
  return JSON.parse(readFixture(rel).toString('utf8')) as T;
}
