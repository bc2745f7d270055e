import type { ServiceNowConfig } from '../../adapters/servicenow/config';
import { checkServiceNow, serviceNowScripts, setupServiceNow } from '../../adapters/servicenow/setup';
import type { VendorSetup } from './types';

/** `setup servicenow`: the Business Rules and system properties to install, and the table access checked. */
export const servicenowSetup: VendorSetup = {
  usage: [
    'setup servicenow [--url <bridge URL>]',
    'print the Business Rules and properties; check the table',
  ],
  async run(settings, { url, out }) {
    const config = settings as ServiceNowConfig;
    const steps = await setupServiceNow(config, { endpoint: `${url}/webhooks/servicenow` });
    for (const script of serviceNowScripts(config)) {
      out(`\n==== ${script.title} ====`);
      out('System Definition > Business Rules > New:');
      for (const line of script.settings) out(`  ${line}`);
      out('Script:');
      out(script.script.trimEnd());
    }
    out('');
    return steps;
  },
  check: (settings) => checkServiceNow(settings as ServiceNowConfig),
};
