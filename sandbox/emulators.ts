/**
 * One emulator per vendor the bridge supports, started on a free port. Adding a vendor adds one line here
 * (and one in src/adapters/registry.ts); the contract suite and the harness then cover it.
 */
import type { VendorName } from '../src/adapters/registry';
import { IntercomEmulator } from '../src/adapters/intercom/emulator';
import { ServiceNowEmulator } from '../src/adapters/servicenow/emulator';
import type { VendorEmulator } from './vendor-emulator';
import { ZendeskEmulator } from '../src/adapters/zendesk/emulator';

export const SANDBOX_WEBHOOK_SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';

export const emulatorFactories = {
  zendesk: () =>
    ZendeskEmulator.start({
      email: 'bridge@acme.example',
      apiToken: 'sandbox-token',
      webhookSecret: SANDBOX_WEBHOOK_SECRET,
    }),
  intercom: () =>
    IntercomEmulator.start({
      accessToken: 'sandbox-intercom-token',
      clientSecret: 'test-intercom-client-secret',
    }),
  servicenow: () =>
    ServiceNowEmulator.start({
      username: 'blip.integration',
      password: 'sandbox-password',
      pushSecret: 'sandbox-servicenow-push-secret',
    }),
} satisfies Record<VendorName, () => Promise<VendorEmulator>>;

export type EmulatorFor<V extends VendorName> = Awaited<ReturnType<(typeof emulatorFactories)[V]>>;
