/**
 * The attachment Business Rule (src/adapters/servicenow/attachment-rule.js), run under Node with stubbed Glide APIs:
 * the `attachment.added` pushes the emulator sends must be byte for byte what the rule sends for the same file, signed
 * the same way; and the bridge's push parser turns them into the agent's file (never the bridge's own upload).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import type { RawRequest } from '../../src/adapters/adapter';
import { ServiceNowWebhook } from '../../src/adapters/servicenow/webhook';
import type { AgentMessageEvent } from '../../src/core/model';
import { ServiceNowEmulator, type WebhookDelivery } from '../../src/adapters/servicenow/emulator';

const RULE = path.resolve(__dirname, '../../src/adapters/servicenow/attachment-rule.js');
const SECRET = 'unit-test-push-secret';

interface Sent {
  endpoint?: string;
  headers: Record<string, string>;
  body?: string;
}

/** Runs the rule once for the file and record a push describes; returns what it would POST. */
function runRule(push: Record<string, unknown>, headers: Record<string, string>): Sent[] {
  const record = push.record as Record<string, string>;
  const file = push.attachment as Record<string, string>;
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
      getUserDisplayName: () => file.author_name,
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
      expect(table).toBe(push.table);
      return {
        get: (sysId: string) => sysId === record.sys_id,
        getUniqueValue: () => record.sys_id,
        getValue: (field: string) => record[field],
        getDisplayValue: () => record.state_label,
        getTableName: () => table,
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
      getUniqueValue: () => file.sys_id,
      getValue: (field: string) =>
        ({ ...file, table_name: push.table as string, table_sys_id: record.sys_id })[field],
    },
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

function asRequest(delivery: WebhookDelivery): RawRequest {
  return {
    method: 'POST',
    path: '/webhooks/servicenow',
    headers: Object.fromEntries(Object.entries(delivery.headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: Buffer.from(delivery.body, 'utf8'),
    receivedAt: new Date(),
  };
}

describe('the attachment Business Rule and the emulator', () => {
  let sn: ServiceNowEmulator;
  const auth = `Basic ${Buffer.from('blip.integration:pw').toString('base64')}`;

  beforeEach(async () => {
    sn = await ServiceNowEmulator.start({ username: 'blip.integration', password: 'pw', pushSecret: SECRET });
    // No bridge here: the pushes go nowhere (status 0) but are recorded with their exact bytes and headers.
    sn.setWebhookTarget('http://127.0.0.1:9/webhooks/servicenow');
  });
  afterEach(async () => {
    await sn.stop();
  });

  async function incident(): Promise<string> {
    const response = await fetch(`${sn.url}/api/now/table/incident`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        short_description: 'BLiP chat: Maria',
        description: 'oi',
        correlation_id: 'blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31',
        correlation_display: 'blip-helpdesk-bridge',
      }),
    });
    return ((await response.json()) as { result: { sys_id: string } }).result.sys_id;
  }

  const file = {
    name: 'nota fiscal nº 88231.pdf',
    mimeType: 'application/pdf',
    data: Buffer.from('%PDF-1.7 …'),
  };

  it('sends the same attachment push for an agent’s file, non-ASCII escaped and signed the same way', async () => {
    const id = await incident();
    const [delivery] = await sn.agentSendFile(id, file);
    same(delivery);
  });

  it('is parsed into the agent’s file, linked to the Attachment API, which serves it only with credentials', async () => {
    const id = await incident();
    const [delivery] = await sn.agentSendFile(id, file);
    const webhook = new ServiceNowWebhook(SECRET, {
      closedStates: ['6', '7', '8'],
      integrationUser: 'blip.integration',
      baseUrl: sn.url,
    });
    expect(webhook.verify(asRequest(delivery!)).ok).toBe(true);
    const [event] = webhook.parse(asRequest(delivery!)) as AgentMessageEvent[];
    const row = sn.attachmentsOf(id)[0]!;
    expect(event).toMatchObject({
      kind: 'agent.message',
      ticket: { vendor: 'servicenow', id },
      eventId: `attachment:${row.sys_id}`,
      sessionId: '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31',
      agent: { id: 'ana.souza', name: 'Ana Souza' },
      message: {
        text: '',
        attachments: [
          {
            url: `${sn.url}/api/now/attachment/${row.sys_id}/file`,
            mimeType: 'application/pdf',
            name: 'nota fiscal nº 88231.pdf',
            size: file.data.length,
            needsAuth: true,
          },
        ],
      },
    });
    const link = event!.message.attachments![0]!.url;
    expect((await fetch(link)).status).toBe(401);
    const download = await fetch(link, { headers: { Authorization: auth } });
    expect(Buffer.from(await download.arrayBuffer()).equals(file.data)).toBe(true);
  });

  it('pushes the bridge’s own upload too, marked, and the parser drops it (the customer’s file is no reply)', async () => {
    const id = await incident();
    const pushed = new Promise<WebhookDelivery>((resolve) => sn.once('delivery', resolve));
    const upload = await fetch(
      `${sn.url}/api/now/attachment/file?table_name=incident&table_sys_id=${id}&file_name=foto.jpg`,
      {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'image/jpeg' },
        body: Buffer.from([0xff, 0xd8, 0xff]),
      },
    );
    expect(upload.status).toBe(201);
    const delivery = await pushed;
    same(delivery);
    expect(
      (JSON.parse(delivery.body) as { attachment: { author_is_integration_user: boolean } }).attachment,
    ).toMatchObject({
      author_is_integration_user: true,
    });
    const webhook = new ServiceNowWebhook(SECRET, { closedStates: ['6'], baseUrl: sn.url });
    expect(webhook.parse(asRequest(delivery))).toEqual([]);
    expect(sn.tickets()[0]!.customerFiles).toEqual([
      { name: 'foto.jpg', mimeType: 'image/jpeg', size: 3, data: Buffer.from([0xff, 0xd8, 0xff]) },
    ]);
  });
});
