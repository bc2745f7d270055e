import { readFileSync } from 'node:fs';
import path from 'node:path';
import { allConfigKeys, loadConfig } from '../../src/config';

const envExample = readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');

interface Line {
  key: string;
  value: string;
  commented: boolean;
}

/** `KEY=value` and `# KEY=value` lines; prose comments are ignored. */
const lines: Line[] = envExample.split('\n').flatMap((raw) => {
  const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(raw.trim());
  return m ? [{ key: m[2]!, value: m[3]!, commented: m[1] !== undefined }] : [];
});

const required = {
  BLIP_IDENTIFIER: 'acmehelpdesk',
  BLIP_ACCESS_KEY: 'key',
  ZENDESK_SUBDOMAIN: 'acme',
  ZENDESK_EMAIL: 'bridge@acme.com.br',
  ZENDESK_API_TOKEN: 'token',
  ZENDESK_WEBHOOK_SECRET: 'secret',
};

describe('.env.example', () => {
  it('documents every configuration key as KEY= (commented or not)', () => {
    const documented = new Set(lines.map((l) => l.key));
    const missing = allConfigKeys().filter((key) => !documented.has(key));
    expect(missing).toEqual([]);
  });

  it('lists only keys the bridge reads, each once', () => {
    const known = new Set(allConfigKeys());
    expect(lines.map((l) => l.key).filter((key) => !known.has(key))).toEqual([]);
    const keys = lines.map((l) => l.key);
    expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
  });

  it('shows the real defaults: its values, with the required keys filled in, load as the defaults do', () => {
    const fromExample: Record<string, string> = {};
    for (const l of lines) if (!l.commented) fromExample[l.key] = l.value;
    expect(loadConfig({ ...fromExample, ...required })).toEqual(loadConfig(required));
  });

  it('shows the real default in commented-out examples too', () => {
    for (const l of lines.filter((x) => x.commented)) {
      expect(loadConfig({ ...required, [l.key]: l.value })).toEqual(loadConfig(required));
    }
  });

  it('leaves the required keys empty (no secrets or sample values that would be used by mistake)', () => {
    for (const key of Object.keys(required)) {
      const line = lines.find((l) => l.key === key);
      expect(line?.value).toBe('');
    }
  });
});
