import type { CheckResult, SetupStep } from '../../adapters/shared/setup';

export interface SetupContext {
  /** The bridge's public base URL (`--url`, else BRIDGE_PUBLIC_URL), without a trailing slash. */
  url: string;
  /** Flags given after the vendor (`--triggers`). */
  flags: Set<string>;
  env: Record<string, string>;
  out: (line: string) => void;
}

/** One vendor's setup and check, over its parsed `<VENDOR>_*` settings. */
export interface VendorSetup {
  /** The command line and what it does, for the usage text. */
  usage: [command: string, description: string];
  run(settings: Record<string, unknown>, context: SetupContext): Promise<SetupStep[]>;
  check(settings: Record<string, unknown>): Promise<CheckResult>;
}
