/**
 * Chatwoot's side of the bridge (`npm run bridge -- setup chatwoot`). The API inbox's webhook URL and its secret
 * are set in the inbox's settings (Settings > Inboxes > the inbox > Configuration), so the command prints what to
 * enter, then checks through the API what it can: the access token, and that the inbox is an API channel pointing
 * at the bridge.
 */
import { errorMessage } from '../adapter';
import type { CheckResult, SetupStep, VendorSetup } from '../shared/setup';
import { ChatwootApi } from './api';
import type { ChatwootConfig } from './config';

export async function setupChatwoot(
  config: ChatwootConfig,
  options: { endpoint: string },
): Promise<SetupStep[]> {
  const steps: SetupStep[] = [
    {
      status: 'info',
      item: 'webhook',
      detail: [
        `In Chatwoot, Settings > Inboxes > inbox ${config.CHATWOOT_INBOX_ID} (an API channel) > Configuration:`,
        `  Webhook URL:  ${options.endpoint}`,
        '  The inbox signs each webhook (X-Chatwoot-Signature) with its webhook secret: CHATWOOT_WEBHOOK_SECRET',
        '  must be that secret (shown on the same page).',
      ].join('\n'),
    },
  ];
  const token = await checkChatwoot(config);
  steps.push({ status: token.ok ? 'ok' : 'fail', item: 'access token', detail: token.detail });
  if (!token.ok) return steps;
  try {
    const inbox = await new ChatwootApi(config).inbox();
    const item = `inbox ${config.CHATWOOT_INBOX_ID}`;
    if (inbox.channel_type && inbox.channel_type !== 'Channel::Api') {
      steps.push({
        status: 'fail',
        item,
        detail: `is a ${inbox.channel_type} inbox; the bridge needs an API channel inbox`,
      });
    } else if (inbox.webhook_url && inbox.webhook_url !== options.endpoint) {
      steps.push({
        status: 'warn',
        item,
        detail: `its webhook URL is ${inbox.webhook_url}, not ${options.endpoint}`,
      });
    } else {
      steps.push({ status: 'ok', item, detail: inbox.name ?? 'exists' });
    }
  } catch (err) {
    steps.push({ status: 'fail', item: `inbox ${config.CHATWOOT_INBOX_ID}`, detail: errorMessage(err) });
  }
  return steps;
}

/** GET /api/v1/profile: the access token works, and whose it is. */
export async function checkChatwoot(config: ChatwootConfig): Promise<CheckResult> {
  try {
    const me = await new ChatwootApi(config).profile();
    return { ok: true, detail: `token of ${me.name ?? me.email ?? me.id} (user ${me.id})` };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  }
}

export const chatwootSetup: VendorSetup<ChatwootConfig> = {
  usage: [
    'setup chatwoot [--url <bridge URL>]',
    'print the inbox webhook URL; check the token and the inbox',
  ],
  run: (settings, { url }) => setupChatwoot(settings, { endpoint: `${url}/webhooks/chatwoot` }),
  check: (settings) => checkChatwoot(settings),
};
