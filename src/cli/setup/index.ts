/**
 * `npm run bridge -- setup <vendor>`: the vendor side of the bridge (webhooks, triggers, Business Rules), created or
 * checked through the vendor's API where it has one, printed where it does not. Reads the vendor's `<VENDOR>_*`
 * settings (`.env`) and the bridge's public URL (`--url`, else BRIDGE_PUBLIC_URL).
 */
import { adapterModules, type VendorName, vendorNames } from '../../adapters/registry';
import { type SetupStep, succeeded, type VendorSetup } from '../../adapters/shared/setup';

/** From the registry: each vendor module's `setup`; a vendor without one gets neither `setup` nor a line in `check`. */
export const vendorSetups: Partial<Record<VendorName, VendorSetup>> = Object.fromEntries(
  vendorNames.flatMap((name) => {
    const setup = adapterModules[name].setup as VendorSetup | undefined;
    return setup ? [[name, setup]] : [];
  }),
);

export const SETUP_USAGE = Object.values(vendorSetups)
  .map((v) => `  ${v!.usage[0].padEnd(48)} ${v!.usage[1]}`)
  .join('\n');

type Print = (line: string) => void;

/** The environment as the bridge reads it: an empty value counts as unset. */
export function settingsInput(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1].trim() !== ''),
  );
}

/** The vendor's parsed settings, or the problems (`KEY: reason`, never a value). */
export function vendorSettings(
  vendor: VendorName,
  input: Record<string, string>,
): { settings: Record<string, unknown> } | { problems: string[] } {
  const parsed = adapterModules[vendor].configSchema.safeParse(input);
  if (parsed.success) return { settings: parsed.data as Record<string, unknown> };
  return {
    problems: parsed.error.issues.map((i) => {
      const key = i.path.join('.') || '(settings)';
      return `${key}: ${i.code === 'invalid_type' && !(key in input) ? 'is required' : i.message}`;
    }),
  };
}

export async function runSetup(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Print,
  err: Print,
): Promise<number> {
  const [vendor, ...rest] = args;
  const setup = (vendorNames as readonly string[]).includes(vendor ?? '')
    ? vendorSetups[vendor as VendorName]
    : undefined;
  if (!vendor || !setup) {
    err(`setup needs a vendor: ${Object.keys(vendorSetups).join(', ')}\n\n${SETUP_USAGE}`);
    return 2;
  }
  const input = settingsInput(env);
  const urlAt = rest.indexOf('--url');
  const rawUrl = urlAt >= 0 ? rest[urlAt + 1] : input.BRIDGE_PUBLIC_URL;
  if (!rawUrl || !/^https?:\/\/[^\s/]+/.test(rawUrl)) {
    err("setup needs the bridge's public URL: --url https://bridge.example.com (or BRIDGE_PUBLIC_URL)");
    return 2;
  }
  const result = vendorSettings(vendor as VendorName, input);
  if ('problems' in result) {
    err(
      `The ${vendor} settings are incomplete (see .env.example):\n${result.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    return 2;
  }
  const flags = new Set(
    rest.filter((a, i) => a.startsWith('--') && a !== '--url' && rest[i - 1] !== '--url'),
  );
  const url = rawUrl.replace(/\/+$/, '');
  out(`Setting up ${vendor} for the bridge at ${url}`);
  const steps = await setup.run(result.settings, {
    url,
    flags,
    env: input,
    out,
  });
  printSteps(steps, out);
  const ok = succeeded(steps);
  out(ok ? `\n${vendor}: ready.` : `\n${vendor}: NOT ready (see FAIL above).`);
  return ok ? 0 : 1;
}

const LABELS: Record<SetupStep['status'], string> = {
  ok: 'OK',
  created: 'CREATED',
  updated: 'UPDATED',
  info: 'INFO',
  warn: 'WARN',
  fail: 'FAIL',
};

export function printSteps(steps: SetupStep[], out: Print): void {
  for (const step of steps) {
    const [first = '', ...more] = step.detail.split('\n');
    out(`${LABELS[step.status].padEnd(8)} ${step.item.padEnd(48)} ${first}`);
    for (const line of more) out(`${' '.repeat(9)}${line}`);
  }
}
