import { checkZendesk, setupZendesk } from '../../adapters/zendesk/setup';
import type { ZendeskConfig } from '../../adapters/zendesk/config';
import type { VendorSetup } from './types';

/** `setup zendesk [--triggers]`: the webhook (event subscriptions), or with --triggers the trigger path. */
export const zendeskSetup: VendorSetup = {
  usage: [
    'setup zendesk [--url <bridge URL>] [--triggers]',
    'create or check the webhook (and triggers) by API',
  ],
  run: (settings, { url, flags, env }) =>
    setupZendesk(settings as ZendeskConfig, {
      endpoint: `${url}/webhooks/zendesk`,
      mode: flags.has('--triggers') ? 'triggers' : 'events',
      tag: (env.BRIDGE_TICKET_TAGS ?? 'blip_bridge').split(',')[0]?.trim() || 'blip_bridge',
    }),
  check: (settings) => checkZendesk(settings as ZendeskConfig),
};
