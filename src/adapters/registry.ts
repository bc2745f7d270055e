import type { AdapterModule } from './adapter';
import { chatwootModule } from './chatwoot';
import { intercomModule } from './intercom';
import { omnizeModule } from './omnize';
import { servicenowModule } from './servicenow';
import { zendeskModule } from './zendesk';

/** Every helpdesk the bridge can serve. Adding a vendor: one folder under src/adapters/ and one line here. */
export const adapterModules = {
  zendesk: zendeskModule,
  intercom: intercomModule,
  servicenow: servicenowModule,
  omnize: omnizeModule,
  chatwoot: chatwootModule,
} satisfies Record<string, AdapterModule>;

export type VendorName = keyof typeof adapterModules;
export const vendorNames = Object.keys(adapterModules) as [VendorName, ...VendorName[]];
