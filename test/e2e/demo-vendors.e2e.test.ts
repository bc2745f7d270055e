/**
 * `npm run demo -- --vendor <name>` takes its choices from the registry (issue 19.2): the usage lists every
 * registered vendor, and an unknown name is an error naming the known ones, never a silent Zendesk run.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { vendorNames } from '../../src/adapters/registry';

jest.setTimeout(60_000);

const root = path.resolve(__dirname, '../..');

function demo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'sandbox/demo.ts', ...args],
      { cwd: root, timeout: 50_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run demo: the vendor options', () => {
  it('lists every registered vendor', async () => {
    const { code, stdout } = await demo('--help');
    expect(code).toBe(0);
    expect(stdout).toContain(
      `--vendor <name>      the whole loop with one helpdesk: ${vendorNames.join(', ')}`,
    );
  });

  it('refuses an unknown vendor, naming the known ones, and starts nothing', async () => {
    const { code, stdout, stderr } = await demo('--vendor', 'freshdesk');
    expect(code).toBe(2);
    expect(stderr).toContain(`unknown helpdesk: freshdesk (known: ${vendorNames.join(', ')})`);
    expect(stdout).not.toContain('demo: customer');
  });
});
