/**
 * One emulator per vendor the bridge supports, started on a free port. Adding a vendor adds one line here
 * (and one in src/adapters/registry.ts); the contract suite and the harness then cover it.
 */
import type { VendorName } from '../src/adapters/registry';
import type { VendorEmulator } from './vendor-emulator';
import { ZendeskEmulator } from './zendesk-emulator';

export const SANDBOX_WEBHOOK_SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';

export const emulatorFactories = {
  zendesk: () =>
    ZendeskEmulator.start({
      email: 'bridge@acme.example',
      apiToken: 'sandbox-token',
      webhookSecret: SANDBOX_WEBHOOK_SECRET,
    }),
} satisfies Record<VendorName, () => Promise<VendorEmulator>>;

export type EmulatorFor<V extends VendorName> = Awaited<ReturnType<(typeof emulatorFactories)[V]>>;
