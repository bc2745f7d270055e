/**
 * ServiceNow's side of the bridge (`npm run bridge -- setup servicenow`). Business Rules are server-side scripts
 * an admin installs in the instance; the command prints them (business-rule.js, attachment-rule.js, with the
 * table, condition and system properties filled in for this configuration), and checks through the API that the
 * integration user can read the table with the customer column.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../adapter';
import type { CheckResult, SetupStep, VendorSetup } from '../shared/setup';
import { ServiceNowApi } from './api';
import { integrationUser, type ServiceNowConfig } from './config';
import { CORRELATION_DISPLAY } from './mapping';

export interface ServiceNowScript {
  title: string;
  /** Where and how to install it. */
  settings: string[];
  script: string;
}

/** The two Business Rules, with their settings for this configuration. */
export function serviceNowScripts(config: ServiceNowConfig): ServiceNowScript[] {
  const table = config.SERVICENOW_TABLE;
  return [
    {
      title: 'Business Rule "blip-helpdesk-bridge push" (comments and state changes)',
      settings: [
        `Table: ${table} | When: after | Insert: false | Update: true | Advanced: true | Order: 1000`,
        `Condition: current.correlation_display == '${CORRELATION_DISPLAY}' && (current.comments.changes() || current.state.changes() || current.assigned_to.changes() || current.assignment_group.changes())`,
      ],
      script: readScript('business-rule.js'),
    },
    {
      title: 'Business Rule "blip-helpdesk-bridge files" (agents\' attachments)',
      settings: [
        'Table: sys_attachment | When: after | Insert: true | Update: false | Advanced: true | Order: 1000',
        `Condition: current.table_name == '${table}'`,
      ],
      script: readScript('attachment-rule.js'),
    },
  ];
}

/** The system properties the rules read, for this configuration (the secret is never printed). */
export function serviceNowProperties(config: ServiceNowConfig, endpoint: string): Array<[string, string]> {
  return [
    ['blip_bridge.push.endpoint', endpoint],
    ['blip_bridge.push.secret', 'type password2; the value of SERVICENOW_PUSH_SECRET'],
    ['blip_bridge.integration_user', integrationUser(config)],
  ];
}

export async function setupServiceNow(
  config: ServiceNowConfig,
  options: { endpoint: string },
): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  if (!config.SERVICENOW_PUSH_SECRET) {
    steps.push({
      status: 'warn',
      item: 'push',
      detail: 'SERVICENOW_PUSH_SECRET is not set: the bridge has no push route and relies on polling alone',
    });
  }
  steps.push({
    status: 'info',
    item: 'system properties',
    detail: serviceNowProperties(config, options.endpoint)
      .map(([name, value]) => `  ${name.padEnd(30)} ${value}`)
      .join('\n'),
  });
  const table = await checkServiceNow(config);
  steps.push({
    status: table.ok ? 'ok' : 'fail',
    item: `table ${config.SERVICENOW_TABLE}`,
    detail: table.detail,
  });
  return steps;
}

/** GET /api/now/table/<table>?sysparm_limit=1: the credentials work and the integration user may read the table. */
export async function checkServiceNow(config: ServiceNowConfig): Promise<CheckResult> {
  const api = new ServiceNowApi(config);
  try {
    await api.list(config.SERVICENOW_TABLE, '', ['sys_id', config.SERVICENOW_CUSTOMER_FIELD], 1);
    return {
      ok: true,
      detail: `${api.baseUrl} as ${integrationUser(config)}: ${config.SERVICENOW_TABLE} readable`,
    };
  } catch (err) {
    return { ok: false, detail: `${api.baseUrl}: ${errorMessage(err)}` };
  }
}

/** A script shipped beside this file (src/adapters/servicenow/*.js; not compiled, so looked up in src from dist). */
function readScript(name: string): string {
  const candidates = [
    path.join(__dirname, name),
    path.resolve(__dirname, '../../../src/adapters/servicenow', name),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${name} not found next to ${__dirname}`);
  return readFileSync(found, 'utf8');
}

/** `setup servicenow`: the Business Rules and system properties to install, and the table access checked. */
export const servicenowSetup: VendorSetup<ServiceNowConfig> = {
  usage: [
    'setup servicenow [--url <bridge URL>]',
    'print the Business Rules and properties; check the table',
  ],
  async run(config, { url, out }) {
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
  check: (settings) => checkServiceNow(settings),
};
