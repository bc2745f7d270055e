/**
 * A vendor is one folder plus one registry line (issue 19.2). For every vendor in src/adapters/registry.ts: its
 * folder has what the suites, the sandbox, the CLI and `.env.example` pick up from the registry (module, config
 * schema in its own `<VENDOR>_` namespace, setup, README, the test-side `emulator.ts` with its kit), and no
 * production file outside the folder imports it but the registry.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { adapterModules, vendorNames } from '../../src/adapters/registry';
import { testKit } from '../../sandbox/emulators';

const root = path.resolve(__dirname, '../..');
const envExample = readFileSync(path.join(root, '.env.example'), 'utf8');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe.each(vendorNames)('the %s folder', (vendor) => {
  const module = adapterModules[vendor];
  const folder = path.join(root, 'src/adapters', vendor);
  const keys = Object.keys(module.configSchema.shape);

  it('is registered under its own name', () => {
    expect(module.name).toBe(vendor);
    expect(vendor).toMatch(/^[a-z][a-z0-9]*$/);
  });

  it('keeps its settings in its own namespace, each documented in .env.example', () => {
    const prefix = `${vendor.toUpperCase()}_`;
    expect(keys.filter((k) => !k.startsWith(prefix))).toEqual([]);
    const undocumented = keys.filter((k) => !new RegExp(`^#?\\s*${k}=`, 'm').test(envExample));
    expect(undocumented).toEqual([]);
  });

  it('has its README, its setup/check and its test kit', () => {
    expect(existsSync(path.join(folder, 'README.md'))).toBe(true);
    expect(module.setup?.usage[0]).toMatch(new RegExp(`^setup ${vendor}\\b`));
    const kit = testKit(vendor);
    expect(typeof kit.start).toBe('function');
    expect(existsSync(path.join(root, 'test', kit.fuzzSample))).toBe(true);
    // The harness settings are the vendor's own keys (a misspelt key would silently leave the limit on).
    expect(Object.keys(kit.harnessEnv).filter((k) => !keys.includes(k))).toEqual([]);
    expect(Object.keys(kit.demoEnv ?? {}).filter((k) => !keys.includes(k))).toEqual([]);
  });

  it('is imported by no production file outside the folder but the registry', () => {
    const importers = filesUnder(path.join(root, 'src'))
      .filter(
        (f) => !f.startsWith(`${folder}${path.sep}`) && !f.endsWith(path.join('adapters', 'registry.ts')),
      )
      .filter((f) =>
        new RegExp(`from '(\\.\\./)*(\\./)?(adapters/)?${vendor}(/[\\w-]+)?'`).test(readFileSync(f, 'utf8')),
      );
    expect(importers.map((f) => path.relative(root, f))).toEqual([]);
  });
});
