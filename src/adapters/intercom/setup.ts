/**
 * Intercom's side of the bridge (`npm run bridge -- setup intercom`). Webhook subscriptions cannot be made through
 * Intercom's REST API (they live in the Developer Hub, per app), so the command prints exactly what to enter, then
 * checks through the API what it can: the access token, and the teammate the bridge acts as (INTERCOM_ADMIN_ID).
 */
import { errorMessage } from '../adapter';
import type { CheckResult, SetupStep, VendorSetup } from '../shared/setup';
import { IntercomApi } from './api';
import type { IntercomConfig } from './config';

/** The topics the bridge handles (src/adapters/intercom/webhook.ts); nothing else is needed. */
export const INTERCOM_TOPICS = [
  'conversation.admin.replied',
  'conversation.admin.assigned',
  'conversation.admin.closed',
];

export async function setupIntercom(
  config: IntercomConfig,
  options: { endpoint: string },
): Promise<SetupStep[]> {
  const steps: SetupStep[] = [
    {
      status: 'info',
      item: 'webhook',
      detail: [
        'Intercom webhooks are set in the Developer Hub (not through the API):',
        '  Developer Hub > your app > Webhooks',
        `  Endpoint URL:  ${options.endpoint}`,
        `  Topics:        ${INTERCOM_TOPICS.join(', ')}`,
        "  Intercom signs each notification (X-Hub-Signature) with the app's client secret: INTERCOM_CLIENT_SECRET",
        '  must be that secret (Developer Hub > your app > Basic information).',
      ].join('\n'),
    },
  ];
  const api = new IntercomApi(config);
  const token = await checkIntercom(config);
  steps.push({ status: token.ok ? 'ok' : 'fail', item: 'access token', detail: token.detail });
  if (!token.ok) return steps;
  try {
    const admin = await api.admin(config.INTERCOM_ADMIN_ID);
    steps.push(
      admin
        ? { status: 'ok', item: `admin ${config.INTERCOM_ADMIN_ID}`, detail: admin.name ?? 'exists' }
        : {
            status: 'fail',
            item: `admin ${config.INTERCOM_ADMIN_ID}`,
            detail: 'no such teammate: INTERCOM_ADMIN_ID must be the id of a teammate (Settings > Teammates)',
          },
    );
  } catch (err) {
    steps.push({ status: 'fail', item: `admin ${config.INTERCOM_ADMIN_ID}`, detail: errorMessage(err) });
  }
  return steps;
}

/** GET /me: the access token works, and whose it is. */
export async function checkIntercom(config: IntercomConfig): Promise<CheckResult> {
  try {
    const me = await new IntercomApi(config).me();
    return { ok: true, detail: `token of ${me.name ?? me.email ?? me.id} (admin ${me.id})` };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  }
}

/** `setup intercom`: what to subscribe in the Developer Hub, and the token and admin checked by API. */
export const intercomSetup: VendorSetup<IntercomConfig> = {
  usage: ['setup intercom [--url <bridge URL>]', 'print the webhook topics and URL; check token and admin'],
  run: (settings, { url }) => setupIntercom(settings, { endpoint: `${url}/webhooks/intercom` }),
  check: (settings) => checkIntercom(settings),
};
