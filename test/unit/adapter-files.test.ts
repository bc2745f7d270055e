/**
 * The adapters' file calls against their emulators (real HTTP on loopback), beyond what the contract suite sees:
 * the exact vendor requests for customer files, credentials sent only to the vendor's own host, and agents' files
 * found by polling and by the catch-up before a hand-back with the same ids as the webhooks.
 */
import { IntercomAdapter, partContent } from '../../src/adapters/intercom';
import { intercomConfigSchema } from '../../src/adapters/intercom/config';
import { ServiceNowAdapter } from '../../src/adapters/servicenow';
import { servicenowConfigSchema } from '../../src/adapters/servicenow/config';
import { ZendeskAdapter } from '../../src/adapters/zendesk';
import { zendeskConfigSchema } from '../../src/adapters/zendesk/config';
import { PermanentError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { MediaFile, OpenTicketRequest } from '../../src/core/model';
import { IntercomEmulator } from '../../src/adapters/intercom/emulator';
import { ServiceNowEmulator } from '../../src/adapters/servicenow/emulator';
import { ZendeskEmulator } from '../../src/adapters/zendesk/emulator';

const SESSION = '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31';
const at = '2026-11-03T14:00:00.000Z';
const request: OpenTicketRequest = {
  customer: {
    key: 'a1b2c3@tunnel.msging.net',
    address: 'a1b2c3@tunnel.msging.net/instance',
    originator: '5511987654321@wa.gw.msging.net',
    name: 'Maria',
  },
  sessionId: SESSION,
  subject: 'BLiP chat: Maria',
  tags: ['blip_bridge'],
  first: { id: 'm1', text: 'Olá', at },
};
const photo: MediaFile = {
  name: 'foto.jpg',
  mimeType: 'image/jpeg',
  size: 6,
  data: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2]),
};
const pdf = { name: 'laudo.pdf', mimeType: 'application/pdf', data: Buffer.from('%PDF-1.7 laudo') };

describe('ServiceNow files', () => {
  let sn: ServiceNowEmulator;
  let adapter: ServiceNowAdapter;

  beforeEach(async () => {
    sn = await ServiceNowEmulator.start({
      username: 'blip.integration',
      password: 'pw',
      pushSecret: 'x'.repeat(16),
    });
    sn.setPushEnabled(false);
    const config = servicenowConfigSchema.parse({ ...sn.bridgeEnv(), SERVICENOW_POLL: 'true' });
    adapter = new ServiceNowAdapter(config, { logger: silentLogger });
  });
  afterEach(async () => {
    await sn.stop();
  });

  it('attaches a customer file with the Attachment API and names it in the comment it belongs to', async () => {
    const ticket = await adapter.openTicket(request);
    expect(adapter.uploadNeedsTicket).toBe(true);
    const ref = await adapter.uploadAttachment(photo, ticket);
    const [call] = sn.apiCallsTo('POST', /^\/api\/now\/attachment\/file/);
    expect(call!.path).toBe(
      `/api/now/attachment/file?table_name=incident&table_sys_id=${ticket.id}&file_name=foto.jpg`,
    );
    expect(call!.headers['content-type']).toBe('image/jpeg');
    expect(ref).toBe(sn.attachmentsOf(ticket.id)[0]!.sys_id);
    await adapter.appendCustomerMessage(ticket, {
      id: 'm2',
      text: 'segue a foto',
      attachments: [
        { url: 'https://media.example/1', mimeType: 'image/jpeg', name: 'foto.jpg', uploadRef: ref },
        { url: 'https://media.example/2', mimeType: 'video/mp4', notAttached: 'larger than 25 MB' },
        { url: 'https://media.example/3', mimeType: 'application/pdf', name: 'c.pdf' },
      ],
      at,
    });
    expect(sn.entriesOf(ticket.id, 'comments').map((e) => e.value)).toEqual([
      'segue a foto\n[attached: foto.jpg]\nc.pdf: https://media.example/3',
    ]);
    expect(sn.tickets()[0]!.customerFiles).toEqual([{ ...photo }]);
    await expect(adapter.uploadAttachment(photo)).rejects.toBeInstanceOf(PermanentError);
  });

  it('downloads an agent’s file with its credentials from its own host only', async () => {
    const ticket = await adapter.openTicket(request);
    const row = sn.agentSendFileSilently(ticket.id, pdf);
    const [event] = (await adapter.recentAgentMessages(ticket)).filter((e) =>
      e.eventId.startsWith('attachment:'),
    );
    const attachment = event!.message.attachments![0]!;
    const file = await adapter.downloadAttachment(attachment, 1_000);
    expect(file).toEqual({
      name: 'laudo.pdf',
      mimeType: 'application/pdf',
      size: pdf.data.length,
      data: pdf.data,
    });
    expect(sn.apiCallsTo('GET', new RegExp(`/api/now/attachment/${row.sys_id}/file`))).toHaveLength(1);
    await expect(adapter.downloadAttachment(attachment, 5)).rejects.toMatchObject({
      code: 'MEDIA_TOO_LARGE',
    });
    const foreign = { ...attachment, url: 'https://elsewhere.example/api/now/attachment/x/file' };
    expect(await adapter.downloadAttachment(foreign, 1_000)).toBeUndefined();
  });

  it('finds agents’ files by polling and in the catch-up, with the push’s ids, never the bridge’s own uploads', async () => {
    const ticket = await adapter.openTicket(request);
    const start = await adapter.poll!(undefined);
    await adapter.uploadAttachment(photo, ticket); // the customer's file, by the integration user
    const reply = sn.agentReplySilently(ticket.id, 'segue o laudo');
    const row = sn.agentSendFileSilently(ticket.id, pdf);
    const polled = await adapter.poll!(start.cursor);
    expect(polled.events.map((e) => [e.eventId, e.sessionId])).toEqual([
      [`journal:${reply.sys_id}`, SESSION],
      [`attachment:${row.sys_id}`, SESSION],
    ]);
    expect((await adapter.poll!(polled.cursor)).events).toEqual([]);
    const recent = await adapter.recentAgentMessages(ticket);
    expect(recent.map((e) => e.eventId)).toEqual([`journal:${reply.sys_id}`, `attachment:${row.sys_id}`]);
    expect(recent[1]!.message.attachments).toEqual([
      {
        url: `${sn.url}/api/now/attachment/${row.sys_id}/file`,
        mimeType: 'application/pdf',
        name: 'laudo.pdf',
        size: pdf.data.length,
        needsAuth: true,
      },
    ]);
  });
});

describe('Intercom files', () => {
  let emulator: IntercomEmulator;
  let adapter: IntercomAdapter;

  beforeEach(async () => {
    emulator = await IntercomEmulator.start({ accessToken: 'token', clientSecret: 'secret' });
    adapter = new IntercomAdapter(intercomConfigSchema.parse(emulator.bridgeEnv()), silentLogger);
  });
  afterEach(async () => {
    await emulator.stop();
  });

  it('posts a customer file as the contact’s reply carrying it, accepted by the OpenAPI-validating emulator', async () => {
    const ticket = await adapter.openTicket(request);
    const ref = await adapter.uploadAttachment(photo, ticket);
    expect(ref).toMatch(/^part:\d+$/);
    expect(emulator.tickets()[0]!.customerFiles).toEqual([{ ...photo }]);
    const noContact = { ...ticket, requesterId: undefined };
    await expect(adapter.uploadAttachment(photo, noContact)).rejects.toMatchObject({
      code: 'INTERCOM_NO_CONTACT',
    });
  });

  it('does not list again a file already in the conversation or one the core noted in the text', () => {
    const content = partContent({
      id: 'm',
      text: 'oi',
      at,
      attachments: [
        { url: 'https://m.example/1.jpg', mimeType: 'image/jpeg', uploadRef: 'part:1' },
        { url: 'https://m.example/2.mp4', mimeType: 'video/mp4', notAttached: 'too large' },
        { url: 'https://m.example/3.png', mimeType: 'image/png', name: '3.png' },
      ],
    });
    expect(content).toEqual({
      body: 'oi\n3.png: https://m.example/3.png',
      attachmentUrls: ['https://m.example/3.png'],
    });
  });
});

describe('Zendesk files', () => {
  let zd: ZendeskEmulator;
  let adapter: ZendeskAdapter;

  beforeEach(async () => {
    zd = await ZendeskEmulator.start({
      email: 'bridge@acme.example',
      apiToken: 'token',
      webhookSecret: 'secret',
    });
    zd.setWebhookTarget('http://127.0.0.1:9/webhooks/zendesk'); // no bridge here: the webhooks go nowhere
    adapter = new ZendeskAdapter(zendeskConfigSchema.parse(zd.bridgeEnv()));
  });
  afterEach(async () => {
    await zd.stop();
  });

  it('downloads a private attachment with the API credentials, and sends them to no other host', async () => {
    const ticket = await adapter.openTicket(request, 'open:1');
    await zd.agentSendFile(ticket.id, pdf, 'segue');
    const [file] = (await adapter.recentAgentMessages(ticket)).flatMap((e) => e.message.attachments ?? []);
    expect((await fetch(file!.url, { redirect: 'manual' })).status).toBe(302); // anonymous: the sign-in page
    expect(await adapter.downloadAttachment(file!, 1_000)).toEqual({
      name: 'laudo.pdf',
      mimeType: 'application/pdf',
      size: pdf.data.length,
      data: pdf.data,
    });
    expect(
      await adapter.downloadAttachment({ ...file!, url: 'https://cdn.example/x.pdf' }, 1_000),
    ).toBeUndefined();
  });

  it('catches up on a reply with a file as the text and the file, with the webhooks’ ids', async () => {
    const ticket = await adapter.openTicket(request, 'open:1');
    const deliveries = await zd.agentSendFile(ticket.id, pdf, 'segue o laudo');
    const ids = deliveries.map((d) => {
      const body = JSON.parse(d.body) as {
        type: string;
        event: { comment: { id: string; attachment?: { id: string } } };
      };
      const c = body.event.comment;
      return c.attachment ? `attachment:${c.attachment.id}` : `comment:${c.id}`;
    });
    const recent = await adapter.recentAgentMessages(ticket);
    expect(recent.map((e) => e.eventId)).toEqual(ids);
    expect(recent.map((e) => [e.message.text, e.message.attachments?.map((a) => a.name)])).toEqual([
      ['segue o laudo', undefined],
      ['', ['laudo.pdf']],
    ]);
  });
});
