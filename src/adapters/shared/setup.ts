/**
 * What the vendor setup commands (`npm run bridge -- setup <vendor>`, `check`) report, one line per item.
 * Each vendor's `src/adapters/<vendor>/setup.ts` makes the API calls; `src/cli/setup/` prints the report.
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
