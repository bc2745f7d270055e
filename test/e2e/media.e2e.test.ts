/**
 * Customer media reaches the agent as a real file: the real bridge downloads a LIME media link from a local media
 * store, uploads it to the Zendesk emulator (POST /api/v2/uploads) and attaches it to the customer's comment; what
 * cannot be attached reaches the agent as the link with a note — never dropped — in order.
 */
import { randomBytes } from 'node:crypto';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { EmulatedTicket } from '../../sandbox/zendesk-emulator';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

jest.setTimeout(30_000);

/** The sandbox bridge refuses files above 64 KB, so "oversize" stays small and fast. */
const MAX_BYTES = 65_536;

function jpeg(size: number): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(size - 4)]);
}

describe.each([['memory'], ['redis']])('customer media with %s state', (mode) => {
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
