/**
 * Omnize's side of the bridge (`npm run bridge -- setup omnize`). Omnize's webhook URL is set in its admin (Menu >
 * Settings > Integrations > ClientSDK > Webhook URL), not through the API: the command prints the URL to enter, with
 * the route token (the only line that shows it), then checks the token and the departments through the API.
 */
import { errorMessage } from '../adapter';
import type { CheckResult, SetupStep, VendorSetup } from '../shared/setup';
import { OmnizeApi } from './api';
import type { OmnizeConfig } from './config';

export async function setupOmnize(config: OmnizeConfig, options: { endpoint: string }): Promise<SetupStep[]> {
  const steps: SetupStep[] = [
    {
      status: 'info',
      item: 'webhook',
      detail: [
        'Omnize: Menu > Settings > Integrations > ClientSDK',
        `  Webhook URL:  ${options.endpoint}/${config.OMNIZE_WEBHOOK_TOKEN}`,
        '  Omnize signs nothing: the token in this URL is the only credential. Keep it secret; to rotate it, change',
        '  OMNIZE_WEBHOOK_TOKEN and register the new URL.',
      ].join('\n'),
    },
  ];
  let departments: Array<{ id: string; name?: string }>;
  try {
    departments = await new OmnizeApi(config).departments();
  } catch (err) {
    steps.push({ status: 'fail', item: 'ClientSDK token', detail: errorMessage(err) });
    return steps;
  }
  steps.push({ status: 'ok', item: 'ClientSDK token', detail: `${departments.length} department(s)` });
  const known = new Set(departments.map((d) => d.id));
  const wanted = [config.OMNIZE_DEPARTMENT_ID, ...Object.values(config.OMNIZE_DEPARTMENTS)];
  for (const id of new Set(wanted)) {
    steps.push(
      known.has(id)
        ? {
            status: 'ok',
            item: `department ${id}`,
            detail: departments.find((d) => d.id === id)?.name ?? 'exists',
          }
        : { status: 'fail', item: `department ${id}`, detail: 'not a department of this account' },
    );
  }
  return steps;
}

/** GET /api/v1/departments: the ClientSDK token works. */
export async function checkOmnize(config: OmnizeConfig): Promise<CheckResult> {
  try {
    const departments = await new OmnizeApi(config).departments();
    return { ok: true, detail: `ClientSDK token accepted (${departments.length} department(s))` };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  }
}

export const omnizeSetup: VendorSetup<OmnizeConfig> = {
  usage: [
    'setup omnize [--url <bridge URL>]',
    'print the webhook URL to register; check token and departments',
  ],
  run: (settings, { url }) => setupOmnize(settings, { endpoint: `${url}/webhooks/omnize` }),
  check: (settings) => checkOmnize(settings),
};
