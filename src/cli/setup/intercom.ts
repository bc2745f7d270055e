import { checkIntercom, setupIntercom } from '../../adapters/intercom/setup';
import type { IntercomConfig } from '../../adapters/intercom/config';
import type { VendorSetup } from './types';

/** `setup intercom`: what to subscribe in the Developer Hub, and the token and admin checked by API. */
export const intercomSetup: VendorSetup = {
  usage: ['setup intercom [--url <bridge URL>]', 'print the webhook topics and URL; check token and admin'],
  run: (settings, { url }) =>
    setupIntercom(settings as IntercomConfig, { endpoint: `${url}/webhooks/intercom` }),
  check: (settings) => checkIntercom(settings as IntercomConfig),
};
