/**
 * The Business Rule the README tells admins to install (src/adapters/servicenow/business-rule.js), run under Node
 * with stubbed Glide APIs: the pushes the emulator sends must be byte for byte what the rule would send for the same
 * record, and signed the same way, so the contract suite's pushes are the real thing.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { ServiceNowEmulator, type WebhookDelivery } from '../../src/adapters/servicenow/emulator';
import { readFixture } from '../helpers/fixtures';

const RULE = path.resolve(__dirname, '../../src/adapters/servicenow/business-rule.js');
const SECRET = 'unit-test-push-secret';

interface Sent {
  endpoint?: string;
  headers: Record<string, string>;
  body?: string;
}

/** Runs the rule once for `current` (values as the delivered body shows them) and returns what it would POST. */
function runRule(push: Record<string, unknown>, headers: Record<string, string>): Sent[] {
  const record = push.record as Record<string, string>;
  const journal = push.journal as Record<string, string> | undefined;
  const state = push.state as { previous: string | null; current: string } | undefined;
  const close = (push.close ?? {}) as Record<string, string>;
  type Reference = { sys_id: string; name: string } | null;
  const assignment = push.assignment as { assigned_to: Reference; assignment_group: Reference } | undefined;
  const values: Record<string, string> = {
    ...record,
    ...close,
    sys_mod_count: String(push.event_id).split(':')[1] ?? '0',
    ...(assignment?.assigned_to ? { assigned_to: assignment.assigned_to.sys_id } : {}),
    ...(assignment?.assignment_group ? { assignment_group: assignment.assignment_group.sys_id } : {}),
  };
  const displayValues: Record<string, string | undefined> = {
    state: record.state_label,
    assigned_to: assignment?.assigned_to?.name,
    assignment_group: assignment?.assignment_group?.name,
  };
  const sent: Sent[] = [];
  const seconds = Number(headers['X-Bridge-Timestamp']);
  const context = {
    gs: {
      getProperty: (name: string, fallback?: string) =>
        ({
          'blip_bridge.push.endpoint': 'https://bridge.example.com/webhooks/servicenow',
          'blip_bridge.push.secret': SECRET,
          'blip_bridge.integration_user': 'blip.integration',
        })[name] ?? fallback,
      error: (message: string) => {
        throw new Error(message);
      },
      getUserDisplayName: () => journal?.author_name,
    },
    GlideDateTime: function GlideDateTime() {
      return { getValue: () => push.sent_at, getNumericValue: () => seconds * 1000 };
    },
    GlideStringUtil: { base64Encode: (s: string) => Buffer.from(s, 'utf8').toString('base64') },
    GlideCertificateEncryption: function GlideCertificateEncryption() {
      return {
        generateMac: (key: string, algorithm: string, data: string) => {
          expect(algorithm).toBe('HmacSHA256');
          return createHmac('sha256', Buffer.from(key, 'base64')).update(data, 'utf8').digest('base64');
        },
      };
    },
    GlideRecord: function GlideRecord(table: string) {
      expect(table).toBe('sys_journal_field');
      let rows = journal ? 1 : 0;
      return {
        addQuery: () => {},
        orderByDesc: () => {},
        setLimit: () => {},
        query: () => {},
        next: () => rows-- > 0,
        getUniqueValue: () => journal?.sys_id,
        getValue: (field: string) => journal?.[field],
      };
    },
    sn_ws: {
      RESTMessageV2: function RESTMessageV2() {
        const message: Sent = { headers: {} };
        return {
          setEndpoint: (url: string) => (message.endpoint = url),
          setHttpMethod: () => {},
          setRequestHeader: (name: string, value: string) => (message.headers[name] = value),
          setRequestBody: (body: string) => (message.body = body),
          executeAsync: () => sent.push(message),
        };
      },
    },
    current: {
      getUniqueValue: () => record.sys_id,
      getValue: (field: string) => values[field],
      getDisplayValue: (field: string) => displayValues[field],
      getTableName: () => push.table,
      comments: { changes: () => !!journal, getJournalEntry: () => journal?.entry },
      state: { changes: () => !!state },
      assigned_to: { changes: () => !!assignment?.assigned_to },
      assignment_group: { changes: () => !!assignment?.assignment_group },
    },
    previous: state ? { getValue: () => state.previous } : null,
  };
  runInNewContext(readFileSync(RULE, 'utf8'), context);
  return sent;
}

function same(delivery: WebhookDelivery | undefined): void {
  expect(delivery).toBeDefined();
  const push = JSON.parse(delivery!.body) as Record<string, unknown>;
  const [sent, ...more] = runRule(push, delivery!.headers);
  expect(more).toEqual([]);
  expect(sent?.body).toBe(delivery!.body);
  expect(sent?.headers).toEqual({
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'X-Bridge-Event-Id': delivery!.headers['X-Bridge-Event-Id'],
    'X-Bridge-Timestamp': delivery!.headers['X-Bridge-Timestamp'],
    'X-Bridge-Signature': delivery!.headers['X-Bridge-Signature'],
  });
}

describe('the Business Rule and the emulator', () => {
  let sn: ServiceNowEmulator;
  let deliveries: WebhookDelivery[];

  beforeEach(async () => {
    sn = await ServiceNowEmulator.start({ username: 'blip.integration', password: 'pw', pushSecret: SECRET });
    deliveries = [];
    // No bridge here: the pushes go nowhere (status 0) but are recorded with their exact bytes and headers.
    sn.setWebhookTarget('http://127.0.0.1:9/webhooks/servicenow');
    sn.on('delivery', (d: WebhookDelivery) => deliveries.push(d));
  });
  afterEach(async () => {
    await sn.stop();
  });

  async function incident(): Promise<string> {
    const response = await fetch(`${sn.url}/api/now/table/incident`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from('blip.integration:pw').toString('base64')}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        short_description: 'BLiP chat: Maria',
        description: 'oi',
        correlation_id: 'blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31',
        correlation_display: 'blip-helpdesk-bridge',
      }),
    });
    return ((await response.json()) as { result: { sys_id: string } }).result.sys_id;
  }

  it('is the file the fixtures were made with, unchanged', () => {
    expect(readFileSync(RULE)).toEqual(readFixture('fixtures/vendors/servicenow-business-rule.js'));
  });

  it('sends the same comment push, non-ASCII escaped the same way, signed the same way', async () => {
    const id = await incident();
    same(await sn.agentReply(id, 'Olá Maria! Seu pedido sai às 9h 📦 — "até já"'));
  });

  it('sends the same assignment pushes (the agent, the group), names as display values', async () => {
    const id = await incident();
    same(await sn.agentAssign(id, 'Bruno Tavares'));
    same(await sn.transfer(id, 'Financeiro São Paulo'));
  });

  it('sends the same state push', async () => {
    const id = await incident();
    same(await sn.closeTicket(id));
  });
});
