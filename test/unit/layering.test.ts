import { execFileSync } from 'node:child_process';

/**
 * The layering rules of eslint.config.mjs (docs/architecture.md) reject the imports that would break the house, and
 * leave the legitimate ones alone. Each case lints one line as if it were the named file. ESLint's config is an ES
 * module, which jest's VM cannot load: every case is linted in one child process.
 */
const LINT_CASES = `
  import { ESLint } from 'eslint';
  const eslint = new ESLint({ cwd: process.cwd() });
  const cases = JSON.parse(process.argv[1]);
  const out = [];
  for (const [file, source] of cases) {
    const [result] = await eslint.lintText(source + '\\nexport const x = 1;\\n', { filePath: file });
    out.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message));
  }
  process.stdout.write(JSON.stringify(out));
`;

let verdicts: Map<string, string[]> | undefined;

function lintAll(cases: Array<[string, string]>): Map<string, string[]> {
  const output = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', LINT_CASES, JSON.stringify(cases)],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const results = JSON.parse(output) as string[][];
  return new Map(cases.map(([file, source], i) => [`${file} ${source}`, results[i]!]));
}

async function restricted(file: string, source: string): Promise<string[]> {
  verdicts ??= lintAll([...REFUSED, ...ALLOWED]);
  return verdicts.get(`${file} ${source}`) ?? ['not linted'];
}

const REFUSED: Array<[string, string]> = [
  ['src/core/bad.ts', "import { BlipConnection } from '../blip/client';"],
  ['src/core/work/bad.ts', "import { createState } from '../../state/create-store';"],
  ['src/core/handoff/bad.ts', "import { zendeskModule } from '../../adapters/zendesk';"],
  ['src/core/handoff/bad.ts', "import { toBridgeError } from '../../adapters/shared/http-errors';"],
  ['src/core/bad.ts', "import Keyv from 'keyv';"],
  ['src/core/bad.ts', "import { loadConfig } from '../config';"],
  ['src/adapters/zendesk/bad.ts', "import type { ChatMessage } from '../../core/model';"],
  ['src/adapters/intercom/bad.ts', "import { ZendeskApi } from '../zendesk/api';"],
  ['src/adapters/shared/bad.ts', "import { logTag } from '../../core/ids';"],
  ['src/http/bad.ts', "import { main } from '../cli/bridge';"],
  ['src/analytics/bad.ts', "import { toBridgeError } from '../adapters/shared/http-errors';"],
  ['src/analytics/sinks/bad.ts', "import { registerAdminRoutes } from '../../http/admin-routes';"],
  // Emulators are test-side: production never imports one, nor the sandbox; an emulator reaches no other vendor.
  ['src/app.ts', "import { ZendeskEmulator } from './adapters/zendesk/emulator';"],
  ['src/http/bad.ts', "import type { ZendeskEmulator } from '../adapters/zendesk/emulator';"],
  ['src/adapters/zendesk/index.ts', "import { ZendeskAdmin } from './emulator-admin';"],
  ['src/adapters/registry.ts', "import { startSandbox } from '../../sandbox/harness';"],
  ['src/adapters/zendesk/emulator.ts', "import { ServiceNowApi } from '../servicenow/api';"],
  ['src/adapters/zendesk/emulator.ts', "import { loadConfig } from '../../config';"],
];

const ALLOWED: Array<[string, string]> = [
  ['src/core/vendor-gateway.ts', "import type { HelpdeskAdapter } from '../adapters/adapter';"],
  ['src/core/work/intake.ts', "import type { TicketIndex } from '../handoff/ticket-index';"],
  ['src/adapters/zendesk/ok.ts', "import { PermanentError } from '../adapter';"],
  ['src/adapters/zendesk/ok.ts', "import { toBridgeError } from '../shared/http-errors';"],
  ['src/adapters/zendesk/ok.ts', "import { ZendeskApi } from './api';"],
  ['src/adapters/shared/ok.ts', "import { PermanentError } from '../adapter';"],
  ['src/analytics/sinks/ok.ts', "import { postJson } from '../http';"],
  ['src/http/ok.ts', "import { DeadLetterAdmin } from '../core/work/dead-letters';"],
  ['src/adapters/zendesk/emulator.ts', "import { FaultQueue } from '../../../sandbox/emulator-kit';"],
  ['src/adapters/zendesk/emulator.ts', "import type { WebhookAuthKind } from '../adapter';"],
  ['src/adapters/zendesk/emulator.ts', "import { ZendeskAdmin } from './emulator-admin';"],
  ['src/adapters/zendesk/emulator.ts', "import { zendeskSignature } from './webhook';"],
  ['sandbox/emulators.ts', "import { ZendeskEmulator } from '../src/adapters/zendesk/emulator';"],
];

describe('layering (lint)', () => {
  it.each(REFUSED)('refuses in %s: %s', async (file, source) => {
    expect(await restricted(file, source)).toHaveLength(1);
  });

  it.each(ALLOWED)('allows in %s: %s', async (file, source) => {
    expect(await restricted(file, source)).toEqual([]);
  });
});
