/**
 * Customer media reaches the agent as a real file: the real bridge downloads a LIME media link from a local media
 * store, uploads it to the helpdesk emulator (Zendesk uploads, Intercom attachment_files, ServiceNow Attachment API)
 * and attaches it; what cannot be attached reaches the agent as the link with a note — never dropped — in order.
 * Agents' files reach the customer as LIME media links the bridge re-hosts (GET /media/<token>), or a note.
 */
import { randomBytes } from 'node:crypto';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { EmulatedTicket } from '../../src/adapters/zendesk/emulator';
import { openFirstTicket } from '../helpers/first-ticket';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis-server';
import { REDIS, describeEachNeeding, describeEachState } from '../helpers/requirements';

jest.setTimeout(30_000);

/** The sandbox bridge refuses files above 64 KB, so "oversize" stays small and fast. */
const MAX_BYTES = 65_536;

function jpeg(size: number): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(size - 4)]);
}

describeEachState([['memory'], ['redis']])('customer media with %s state', (mode) => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox;
  let logs: CapturedLogs;

  beforeAll(async () => {
    if (mode === 'redis') redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    logs = captureLogs();
    sandbox = await startSandbox({
      logger: logs.logger,
      redisUrl: redis?.url,
      env: { BRIDGE_MEDIA_MAX_BYTES: String(MAX_BYTES) },
    });
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  const firstTicket = () =>
    sandbox.helpdesk.waitFor(() => [...sandbox.helpdesk.ticketsById.values()][0], 10_000, 'a ticket');
  const comments = (ticket: EmulatedTicket, n: number) =>
    sandbox.helpdesk.waitFor(() => ticket.comments.length >= n && ticket.comments, 10_000, `${n} comment(s)`);

  it('opens the ticket with the photo attached: same bytes, type and name, no link in the text', async () => {
    const photo = jpeg(40_000);
    const uri = sandbox.media.add({ data: photo, contentType: 'image/jpeg' });
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.sendMedia(maria, {
      type: 'image/jpeg',
      uri,
      size: photo.length,
      title: '',
      text: 'Foto do boleto',
    });

    const ticket = await firstTicket();
    const [comment] = await comments(ticket, 1);
    expect(comment!.body).toBe('Foto do boleto');
    expect(comment!.author_id).toBe(ticket.requester_id);
    expect(comment!.attachments).toHaveLength(1);
    const file = comment!.attachments![0]!;
    expect(file.data.equals(photo)).toBe(true);
    expect(file).toMatchObject({ content_type: 'image/jpeg', file_name: 'image.jpg', size: photo.length });
    expect(sandbox.helpdesk.tickets()[0]!.customerFiles).toEqual([
      { name: 'image.jpg', mimeType: 'image/jpeg', size: photo.length, data: photo },
    ]);
    // Uploaded with the real type and the file name, then attached through comment.uploads.
    const upload = sandbox.helpdesk.apiCallsTo('POST', /^\/api\/v2\/uploads/)[0]!;
    expect(upload.path).toBe('/api/v2/uploads?filename=image.jpg');
    expect(upload.headers['content-type']).toBe('image/jpeg');
    const create = sandbox.helpdesk.apiCallsTo('POST', /^\/api\/v2\/tickets$/)[0]!;
    expect((create.body as { ticket: { comment: { uploads: string[] } } }).ticket.comment.uploads).toEqual([
      file.token,
    ]);
    expect(sandbox.media.downloads(uri)).toBe(1);
    // BLiP media URLs carry signatures: the query string never reaches a log line.
    expect(logs.text()).not.toContain('sig=');
  });

  it('appends a photo in order between texts sent right before and right after it', async () => {
    const maria = sandbox.customer('5511987654322@wa.gw.msging.net');
    sandbox.say(maria, 'oi');
    const ticket = await firstTicket();
    await comments(ticket, 1);

    const photo = jpeg(30_000);
    const uri = sandbox.media.add({ data: photo, contentType: 'image/jpeg' });
    sandbox.sendMedia(maria, { type: 'image/jpeg', uri, title: 'boleto.jpg' });
    sandbox.say(maria, 'segue a foto');

    const all = await comments(ticket, 3);
    expect(all.map((c) => c.body)).toEqual(['oi', '[boleto.jpg]', 'segue a foto']);
    expect(all[1]!.attachments?.map((a) => [a.file_name, a.content_type, a.data.equals(photo)])).toEqual([
      ['boleto.jpg', 'image/jpeg', true],
    ]);
    expect(all[2]!.attachments).toBeUndefined();
  });

  it('retries a failed upload without downloading the file again', async () => {
    const maria = sandbox.customer('5511987654323@wa.gw.msging.net');
    sandbox.say(maria, 'oi');
    const ticket = await firstTicket();
    await comments(ticket, 1);

    const photo = jpeg(20_000);
    const uri = sandbox.media.add({ data: photo, contentType: 'image/jpeg' });
    sandbox.helpdesk.failNext(1, 503);
    sandbox.sendMedia(maria, { type: 'image/jpeg', uri });

    const all = await comments(ticket, 2);
    expect(all[1]!.attachments?.[0]?.data.equals(photo)).toBe(true);
    expect(sandbox.helpdesk.apiCallsTo('POST', /^\/api\/v2\/uploads/).map((c) => c.status)).toEqual([
      503, 201,
    ]);
    expect(sandbox.media.downloads(uri)).toBe(1);
  });

  it.each([
    ['with a Content-Length', true],
    ['streamed without a Content-Length', false],
  ])('gives the agent the link with a note for a file over the cap (%s)', async (_label, withLength) => {
    const maria = sandbox.customer('5511987654324@wa.gw.msging.net');
    const uri = sandbox.media.add({
      data: jpeg(MAX_BYTES + 50_000),
      contentType: 'image/jpeg',
      contentLength: withLength,
    });
    sandbox.sendMedia(maria, { type: 'image/jpeg', uri, text: 'foto grande' });
    sandbox.say(maria, 'chegou?');

    const ticket = await firstTicket();
    const all = await comments(ticket, 2);
    expect(all.map((c) => c.body)).toEqual([
      `foto grande\n[image not attached: larger than 64 KB] ${uri}`,
      'chegou?',
    ]);
    expect(all[0]!.attachments).toBeUndefined();
    expect(sandbox.helpdesk.uploads.size).toBe(0);
    const line = logs.lines().find((l) => l.code === 'MEDIA_TOO_LARGE');
    expect(line).toMatchObject({
      level: 'warn',
      vendor: 'zendesk',
      mediaHost: expect.stringMatching(/^127\.0\.0\.1:/),
    });
    expect(logs.text()).not.toContain('sig=');
  });

  it('never connects to a private address the allow-list does not cover, and notes the link', async () => {
    const maria = sandbox.customer('5511987654325@wa.gw.msging.net');
    // The same local server under the name `localhost`: it resolves to loopback, and only 127.0.0.1 is allowed.
    const uri = sandbox.media.add({ data: jpeg(1_000), contentType: 'image/jpeg' }, 'localhost');
    sandbox.sendMedia(maria, { type: 'image/jpeg', uri });
    sandbox.say(maria, 'mandei uma foto');

    const ticket = await firstTicket();
    const all = await comments(ticket, 2);
    expect(all.map((c) => c.body)).toEqual([
      `[image]\n[image not attached: its address is not allowed] ${uri}`,
      'mandei uma foto',
    ]);
    expect(sandbox.media.downloads(uri)).toBe(0);
    expect(logs.lines().find((l) => l.code === 'MEDIA_FORBIDDEN_ADDRESS')).toMatchObject({ level: 'warn' });
    expect(logs.text()).not.toContain('sig=');
  });
});

/**
 * Every vendor, both ways, on Redis (the re-hosted bytes live there): a photo that opens the ticket lands as a real
 * attachment through the vendor's own file API, and a file from the agent reaches the customer as a media link
 * that downloads, byte for byte.
 */
const vendors = ['zendesk', 'intercom', 'servicenow'] as const;
type Vendor = (typeof vendors)[number];

/** The vendor API calls that carried the customer's photo, as the test can read them from the emulator. */
function fileCalls(sandbox: Sandbox<Vendor>): Array<{ path: string; type: unknown; body: unknown }> {
  return sandbox.helpdesk
    .apiCalls()
    .filter((c) => /uploads|attachment\/file|\/reply$/.test(c.path.split('?')[0]!) && c.method === 'POST')
    .map((c) => ({ path: c.path, type: c.headers['content-type'], body: c.body }));
}

describeEachNeeding(vendors, () => REDIS)('files both ways with %s (redis state)', (vendor) => {
  let redis: RedisServer;
  let sandbox: Sandbox<Vendor>;
  let logs: CapturedLogs;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.flush();
    logs = captureLogs();
    const port = await freePort();
    sandbox = await startSandbox({
      vendor,
      logger: logs.logger,
      redisUrl: redis.url,
      env: { HTTP_PORT: String(port), BRIDGE_PUBLIC_URL: `http://127.0.0.1:${port}/` },
    });
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  it('attaches the photo the customer starts with through the vendor’s file API, after the ticket exists', async () => {
    const photo = jpeg(30_000);
    const uri = sandbox.media.add({ data: photo, contentType: 'image/jpeg' });
    const maria = sandbox.customer('5511987654331@wa.gw.msging.net');
    sandbox.sendMedia(maria, {
      type: 'image/jpeg',
      uri,
      size: photo.length,
      title: '',
      text: 'Foto do boleto',
    });

    const ticket = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().find((t) => t.customerFiles.length === 1),
      15_000,
      'the photo on the ticket',
    );
    expect(ticket.customerFiles).toEqual([
      { name: 'image.jpg', mimeType: 'image/jpeg', size: photo.length, data: photo },
    ]);
    expect(ticket.customerMessages[0]).toBe('Foto do boleto');
    expect(sandbox.media.downloads(uri)).toBe(1);
    const [call] = fileCalls(sandbox);
    switch (vendor) {
      case 'zendesk':
        expect(call).toMatchObject({ path: '/api/v2/uploads?filename=image.jpg', type: 'image/jpeg' });
        break;
      case 'intercom':
        // POST /conversations takes no files: the file is a reply by the contact, base64 in attachment_files.
        expect(call!.path).toBe(`/conversations/${ticket.id}/reply`);
        expect(call!.body).toEqual({
          message_type: 'comment',
          type: 'user',
          intercom_user_id: expect.any(String),
          body: '<p>image.jpg</p>', // the file's name, as escaped HTML (issue 17.7)
          attachment_files: [
            { content_type: 'image/jpeg', name: 'image.jpg', data: photo.toString('base64') },
          ],
        });
        break;
      case 'servicenow':
        // The Attachment API needs the record's sys_id: the file goes on once the incident exists.
        expect(call).toMatchObject({
          path: `/api/now/attachment/file?table_name=incident&table_sys_id=${ticket.id}&file_name=image.jpg`,
          type: 'image/jpeg',
        });
        break;
    }
    expect(logs.text()).not.toContain('sig=');
  });

  it('re-hosts the agent’s file: the customer gets a media link that downloads, and a forged one does not', async () => {
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654332@wa.gw.msging.net',
      'manda o boleto?',
      { timeoutMs: 15_000 },
    );
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(20_000)]);
    await sandbox.helpdesk.agentSendFile(ticket.id, {
      name: 'boleto março.pdf',
      mimeType: 'application/pdf',
      data: pdf,
    });

    const sent = await sandbox.lime.waitForSent(
      (s) => s.envelope.type === 'application/vnd.lime.media-link+json',
      15_000,
      'the media link',
    );
    expect(sent.envelope.to).toBe(maria.address);
    const link = sent.envelope.content as { type: string; uri: string; title: string; size: number };
    expect(link).toMatchObject({ type: 'application/pdf', title: 'boleto março.pdf', size: pdf.length });
    expect(link.uri).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${sandbox.config.http.port}/media/[^/]+$`));

    const download = await fetch(link.uri);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toContain("filename*=UTF-8''boleto%20mar%C3%A7o.pdf");
    expect(Buffer.from(await download.arrayBuffer()).equals(pdf)).toBe(true);
    // Any instance on this Redis serves it; a changed token serves nothing.
    const [base, token] = link.uri.split('/media/') as [string, string];
    const [id, expires, signature] = token.split('.') as [string, string, string];
    const forged = `${base}/media/${id}.${Number(expires) + 1}.${signature}`;
    expect((await fetch(forged)).status).toBe(404);
    expect(logs.lines().filter((l) => l.level === 'error' && /file|media/i.test(l.message))).toEqual([]);
  });
});

describe('agents’ files that cannot reach the customer (servicenow)', () => {
  let sandbox: Sandbox<'servicenow'>;
  let logs: CapturedLogs;

  async function start(env: Record<string, string>) {
    logs = captureLogs();
    sandbox = await startSandbox({ vendor: 'servicenow', logger: logs.logger, env });
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654341@wa.gw.msging.net',
      'oi',
      {
        timeoutMs: 15_000,
      },
    );
    return { maria, ticket };
  }
  afterEach(async () => {
    await sandbox.stop();
  });

  const file = { name: 'laudo.pdf', mimeType: 'application/pdf', data: Buffer.from('%PDF-1.7 laudo') };

  it('when the download keeps failing: the customer gets a readable note, the agent an internal note', async () => {
    const port = await freePort();
    const { maria, ticket } = await start({
      HTTP_PORT: String(port),
      BRIDGE_PUBLIC_URL: `http://127.0.0.1:${port}`,
    });
    sandbox.helpdesk.failNext(2, 503); // the download and its one retry
    await sandbox.helpdesk.agentSendFile(ticket.id, file);
    const noted = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().find((t) => t.bridgeNotes.length > 0),
      15_000,
      'the internal note',
    );
    expect(noted.bridgeNotes[0]).toMatch(
      /^A file you sent did not reach the customer: "laudo\.pdf" \(the bridge could not download it \(SERVICENOW_HTTP_503\)\)/,
    );
    const sent = sandbox.lime.sentTo(maria.address).map((s) => s.envelope);
    expect(sent.map((e) => [e.type, e.content])).toEqual([
      [
        'text/plain',
        '[O atendente enviou um arquivo (laudo.pdf) que não pôde ser entregue. Ele já foi avisado.]',
      ],
    ]);
  });

  it('without BRIDGE_PUBLIC_URL: a link that needs the instance login is never sent; both sides are told', async () => {
    const { maria, ticket } = await start({ BRIDGE_LOCALE: 'en' });
    await sandbox.helpdesk.agentSendFile(ticket.id, file, 'Here is the report');
    const noted = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().find((t) => t.bridgeNotes.length > 0),
      15_000,
      'the internal note',
    );
    expect(noted.bridgeNotes[0]).toContain(
      '"laudo.pdf" (its link needs the helpdesk login, and BRIDGE_PUBLIC_URL is not set)',
    );
    await sandbox.lime.waitForSent(
      (s) => String(s.envelope.content).includes('could not be delivered'),
      10_000,
    );
    expect(sandbox.lime.sentTo(maria.address).map((s) => s.envelope.content)).toEqual([
      'Here is the report',
      '[The agent sent a file (laudo.pdf) that could not be delivered. They have been told.]',
    ]);
    expect(sandbox.helpdesk.apiCallsTo('GET', /\/api\/now\/attachment\//)).toEqual([]);
  });
});

describe('agents’ public links without BRIDGE_PUBLIC_URL (intercom)', () => {
  it('passes the link through unchanged: it opens while it has not expired', async () => {
    const logs = captureLogs();
    const sandbox = await startSandbox({ vendor: 'intercom', logger: logs.logger });
    try {
      const { ticket } = await openFirstTicket(sandbox, '5511987654351@wa.gw.msging.net', 'oi', {
        timeoutMs: 15_000,
      });
      const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(500)]);
      await sandbox.helpdesk.agentSendFile(
        ticket.id,
        { name: 'mapa.png', mimeType: 'image/png', data: png },
        'Veja',
      );
      const sent = await sandbox.lime.waitForSent(
        (s) => s.envelope.type === 'application/vnd.lime.media-link+json',
        15_000,
      );
      const link = sent.envelope.content as { type: string; uri: string; title: string; size: number };
      expect(link).toMatchObject({ type: 'image/png', title: 'mapa.png', size: png.length });
      expect(link.uri).toContain(`${sandbox.helpdesk.url}/_emulator/files/`);
      expect(link.uri).toContain('expires=');
      const download = await fetch(link.uri);
      expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);
    } finally {
      await sandbox.stop();
    }
  });
});
