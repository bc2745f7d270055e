/**
 * What the vendor setup commands (`npm run bridge -- setup <vendor>`, `check`) report, one line per item.
 * Each vendor's `src/adapters/<vendor>/setup.ts` makes the API calls and exports its `VendorSetup` (the module's
 * `setup`); `src/cli/setup/` finds it through the registry and prints the report.
 */
export type StepStatus = 'ok' | 'created' | 'updated' | 'info' | 'warn' | 'fail';

export interface SetupStep {
  status: StepStatus;
  /** What it is about: `webhook`, `trigger "…"`, `admin 8823001`. */
  item: string;
  detail: string;
}

/** A credentials / connectivity check: what was reached, as whom, or why not. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

/** True when every step went well (warnings allowed). */
export function succeeded(steps: SetupStep[]): boolean {
  return steps.every((s) => s.status !== 'fail');
}

export interface SetupContext {
  /** The bridge's public base URL (`--url`, else BRIDGE_PUBLIC_URL), without a trailing slash. */
  url: string;
  /** Flags given after the vendor (`--triggers`). */
  flags: Set<string>;
  env: Record<string, string>;
  out: (line: string) => void;
}

/**
 * One vendor's `setup` and `check` commands, over its parsed `<VENDOR>_*` settings. The webhook endpoint is
 * `${url}/webhooks/<vendor>` (a `route-token` vendor appends its token, and says so only to the owner's terminal).
 */
export interface VendorSetup<Settings = Record<string, unknown>> {
  /** The command line and what it does, for the usage text. */
  usage: [command: string, description: string];
  run(settings: Settings, context: SetupContext): Promise<SetupStep[]>;
  check(settings: Settings): Promise<CheckResult>;
}
