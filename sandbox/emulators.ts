/**
 * The test side of every vendor in the registry (src/adapters/registry.ts): each vendor folder's `emulator.ts`
 * exports its `testKit` (the emulator, the harness and demo settings, the fuzz sample), found here by that
 * convention, so adding a vendor needs no line in this file. Production never loads an emulator (eslint, and
 * tsconfig.build.json leaves them out of dist); only the sandbox, the tests and the benchmark come here.
 */
import { type VendorName, vendorNames } from '../src/adapters/registry';
import type { IntercomEmulator } from '../src/adapters/intercom/emulator';
import type { ServiceNowEmulator } from '../src/adapters/servicenow/emulator';
import type { ZendeskEmulator } from '../src/adapters/zendesk/emulator';
import type { VendorEmulator, VendorTestKit } from './vendor-emulator';

export { SANDBOX_WEBHOOK_SECRET } from './emulator-kit';

/**
 * A typing aid, not a registration: tests that call one vendor's own emulator methods (beyond `VendorEmulator`)
 * through `Sandbox<'zendesk'>` get its class. A vendor missing here is fully served as a `VendorEmulator`.
 */
interface EmulatorClasses {
  zendesk: ZendeskEmulator;
  intercom: IntercomEmulator;
  servicenow: ServiceNowEmulator;
}

export type EmulatorFor<V extends VendorName> = V extends keyof EmulatorClasses
  ? EmulatorClasses[V]
  : VendorEmulator;

/** The vendor's test kit, from `src/adapters/<vendor>/emulator.ts`; an error naming the file when it has none. */
export function testKit<V extends VendorName>(vendor: V): VendorTestKit<EmulatorFor<V>> {
  const file = `src/adapters/${vendor}/emulator.ts`;
  let entry: { testKit?: VendorTestKit };
  try {
    // A path built from the registry's names: the convention that keeps a vendor to its folder and one registry line.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    entry = require(`../src/adapters/${vendor}/emulator`) as { testKit?: VendorTestKit };
  } catch (err) {
    throw new Error(
      `${vendor} has no emulator: ${file} (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  if (!entry.testKit) throw new Error(`${file} exports no testKit`);
  return entry.testKit as VendorTestKit<EmulatorFor<V>>;
}

/** One emulator per vendor the bridge supports, started on a free port with the sandbox's credentials. */
export const emulatorFactories = Object.fromEntries(
  vendorNames.map((vendor) => [vendor, () => testKit(vendor).start()]),
) as { [V in VendorName]: () => Promise<EmulatorFor<V>> };
