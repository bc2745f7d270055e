/**
 * What a new ticket opens with, through the sandbox (issue 6): the transcript of the customer's BLiP conversation
 * (chat history over the bridge's own LIME session), the requester filled from the BLiP contact, and the ticket
 * fields (subject template, tags, priority, team, custom fields) from the configuration and from the Redirect
 * context the router's bot sent. A slow or failing BLiP directory never holds the handoff up.
 * Real bridge, real blip-sdk client against the local LIME server, real HTTP to the vendor emulators.
 */
import { randomUUID } from 'node:crypto';
import type { VendorName } from '../../src/adapters/registry';
import type { DomainEventMap } from '../../src/core/events';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { IntercomEmulator } from '../../src/adapters/intercom/emulator';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import type { ServiceNowEmulator } from '../../src/adapters/servicenow/emulator';
import type { ZendeskEmulator } from '../../src/adapters/zendesk/emulator';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(60_000);

let sandbox: Sandbox<VendorName> | undefined;
let logs: CapturedLogs;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

async function start<V extends VendorName>(vendor: V, env: Record<string, string>): Promise<Sandbox<V>> {
  logs = captureLogs();
  const started = await startSandbox({ vendor, logger: logs.logger, env });
  sandbox = started as Sandbox<VendorName>;
  return started;
}

/** Maria's BLiP contact, as `get /contacts/{identity}` answers it (fixture 19b). */
const MARIA = {
  name: 'Maria Oliveira',
  phoneNumber: '+5511987654321',
  email: 'maria.oliveira@example.com.br',
  city: 'São Paulo',
  extras: { cpf: '12345678909', plano: 'Fibra 500' },
  source: 'WhatsApp',
};

/** The conversation with the bot before the handoff, oldest first. */
function seedConversation(s: Sandbox<VendorName>, c: SandboxCustomer): void {
  s.lime.seedThread(c, [
    { from: 'customer', content: 'Oi, meu boleto de março veio com o valor errado' },
    { from: 'bot', content: 'Olá! Sou a assistente da Acme. Pode mandar uma foto do boleto?' },
    {
      from: 'customer',
      type: 'application/vnd.lime.media-link+json',
      content: {
        type: 'image/jpeg',
        uri: 'https://blipmediastore.example/secure-medias/Media_boleto.jpg?sig=abc',
        title: 'boleto.jpg',
        text: 'Foto do boleto',
      },
    },
    { from: 'bot', content: 'Vou te transferir para um atendente.' },
  ]);
}

/** The router's bot hands the customer over with a JSON Redirect context (it arrives as a `context:` message). */
function handOver(s: Sandbox<VendorName>, c: SandboxCustomer, value: Record<string, unknown>): string {
  return String(
    s.lime.sendFromCustomer(s.bot, c, 'application/json', value, { id: `context:${randomUUID()}` }).id,
  );
}

function started(s: Sandbox<VendorName>): Promise<DomainEventMap['handoff.started']> {
  return new Promise((resolve) => {
    const off = s.bridge.events.on('handoff.started', (e) => {
      off();
      resolve(e);
    });
  });
}

describe('Zendesk', () => {
  it('opens the ticket with the transcript as a note, the contact on the requester and the context fields', async () => {
    const s = await start('zendesk', {
      BRIDGE_TRANSCRIPT: 'note',
      BRIDGE_TRANSCRIPT_MESSAGES: '10',
      BRIDGE_TIMEZONE: 'UTC',
      BRIDGE_SUBJECT_TEMPLATE: '{channel}: {name} ({team})',
      BRIDGE_PRIORITY: 'normal',
      ZENDESK_GROUPS: 'billing:20001,support:20002',
      ZENDESK_CONTACT_FIELDS:
        'extras.cpf:360001,context.orderId:360002,extras.plano:user.plano,city:user.cidade',
    });
    const zendesk = s.helpdesk as ZendeskEmulator;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    s.lime.setContact(maria, MARIA);
    seedConversation(s, maria);
    const event = started(s);

    handOver(s, maria, {
      team: 'billing',
      priority: 'high',
      tags: ['vip', 'boleto atrasado'],
      text: 'Quero falar com um atendente',
      data: { orderId: '88412' },
    });

    const ticket = await zendesk.waitFor(
      () => [...zendesk.ticketsById.values()].find((t) => t.comments.some((c) => !c.public)),
      20_000,
      'the ticket with its transcript note',
    );
    expect(ticket.subject).toBe('WhatsApp: Maria Oliveira (billing)');
    expect(ticket.priority).toBe('high');
    expect(ticket.group_id).toBe(20001);
    expect(ticket.custom_fields).toEqual([
      { id: 360001, value: '12345678909' },
      { id: 360002, value: '88412' },
    ]);
    expect(ticket.tags).toEqual(['blip_bridge', 'vip', 'boleto_atrasado']);
    expect(zendesk.users.get(ticket.requester_id)).toMatchObject({
      name: 'Maria Oliveira',
      external_id: '5511987654321@wa.gw.msging.net',
      email: 'maria.oliveira@example.com.br',
      phone: '+5511987654321',
      user_fields: { plano: 'Fibra 500', cidade: 'São Paulo' },
    });
    // The first comment is the customer's (the context's text); the transcript is an internal note after it.
    expect(ticket.comments[0]).toMatchObject({ public: true, author_id: ticket.requester_id });
    expect(ticket.comments[0]!.body).toBe('Quero falar com um atendente');
    const note = ticket.comments.find((c) => !c.public)!.body;
    const lines = note.split('\n');
    expect(lines[0]).toBe('BLiP conversation before the handoff (last 4 messages; times in UTC):');
    expect(lines.slice(1).map((l) => l.replace(/^\[[\d-]+ [\d:]+\] /, ''))).toEqual([
      'Customer: Oi, meu boleto de março veio com o valor errado',
      'Bot: Olá! Sou a assistente da Acme. Pode mandar uma foto do boleto?',
      'Customer: Foto do boleto',
      '    image/jpeg boleto.jpg: https://blipmediastore.example/secure-medias/Media_boleto.jpg?sig=abc',
      'Bot: Vou te transferir para um atendente.',
    ]);
    expect(lines[1]).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] /);
    expect(note).not.toContain('Quero falar com um atendente');
    // The bridge asked BLiP over its own session, like BLiP documents (fixtures 19a, 20a).
    const uris = s.lime.commands.map((c) => `${String(c.to)} ${String(c.uri)}`);
    expect(uris).toContain(`postmaster@crm.msging.net /contacts/${maria.address}`);
    expect(uris).toContain(
      `postmaster@msging.net /threads/${maria.address}?refreshExpiredMedia=true&$take=11`,
    );
    // Reports get the team from the event.
    expect(await event).toMatchObject({ team: 'billing', tags: ['blip_bridge', 'vip', 'boleto_atrasado'] });
  });

  it('can open the ticket with the transcript as its first comment, before the customer’s message', async () => {
    const s = await start('zendesk', { BRIDGE_TRANSCRIPT: 'comment', BRIDGE_TRANSCRIPT_MESSAGES: '2' });
    const zendesk = s.helpdesk as ZendeskEmulator;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    seedConversation(s, maria);
    s.say(maria, 'Preciso de ajuda com o boleto');
    const ticket = await zendesk.waitFor(() => [...zendesk.ticketsById.values()][0], 20_000, 'the ticket');
    const first = ticket.comments[0]!;
    expect(first.public).toBe(true);
    expect(first.body.split('\n')[0]).toBe(
      'BLiP conversation before the handoff (last 2 messages; times in America/Sao_Paulo):',
    );
    expect(first.body).toContain('Customer: Foto do boleto');
    expect(first.body).toContain('Bot: Vou te transferir para um atendente.');
    expect(first.body).not.toContain('Oi, meu boleto'); // only the last 2
    expect(first.body.endsWith("---- The customer's message ----\nPreciso de ajuda com o boleto")).toBe(true);
    expect(ticket.comments.filter((c) => !c.public)).toEqual([]);
    // Without a contact in BLiP: the WhatsApp number from the tunnel originator, the default subject.
    expect(zendesk.users.get(ticket.requester_id)).toMatchObject({ phone: '+5511987654321' });
    expect(ticket.subject).toBe('BLiP chat: 5511987654321@wa.gw.msging.net');
  });

  it('opens the ticket without the contact and the transcript when BLiP is slow or failing', async () => {
    const s = await start('zendesk', { BRIDGE_TRANSCRIPT: 'note', BRIDGE_DIRECTORY_TIMEOUT_MS: '300' });
    const zendesk = s.helpdesk as ZendeskEmulator;
    const maria = s.customer('5511987654321@wa.gw.msging.net');
    s.lime.setContact(maria, MARIA);
    seedConversation(s, maria);
    s.lime.slowCommands('/threads/', 20_000);
    s.lime.failCommands('/contacts/');
    s.say(maria, 'Alguém aí?');
    const ticket = await zendesk.waitFor(() => [...zendesk.ticketsById.values()][0], 20_000, 'the ticket');
    expect(ticket.comments.map((c) => c.body)).toEqual(['Alguém aí?']);
    expect(zendesk.users.get(ticket.requester_id)?.name).toBe('5511987654321@wa.gw.msging.net');
    const codes = logs.lines().map((l) => l.code);
    expect(codes).toContain('DIRECTORY_HISTORY_TIMEOUT');
    expect(codes).toContain('DIRECTORY_CONTACT_FAILED');
    // The handoff goes on: the next message is appended.
    s.say(maria, 'Oi?');
    await zendesk.waitFor(() => ticket.comments.length >= 2, 15_000, 'the second message');
  });

  it('takes a customer’s own JSON (a Blip Chat postback) for a message, never for a handoff context', async () => {
    const s = await start('zendesk', {});
    const zendesk = s.helpdesk as ZendeskEmulator;
    const ana = s.customer('4f9d2c7e.acmerouter@0mn.io');
    s.lime.sendFromCustomer(s.bot, ana, 'application/json', { team: 'billing', priority: 'urgent' });
    const ticket = await zendesk.waitFor(() => [...zendesk.ticketsById.values()][0], 20_000, 'the ticket');
    expect(ticket.priority).toBeNull();
    expect(ticket.group_id).toBeNull();
    expect(ticket.comments[0]!.body).toBe('[unsupported content: application/json]');
  });
});

it('Intercom: contact attributes, conversation title and attributes, the team, and the transcript note', async () => {
  const s = await start('intercom', {
    BRIDGE_TRANSCRIPT: 'note',
    BRIDGE_TEAM: 'support',
    INTERCOM_TEAMS: 'billing:5017691,support:5017692',
    INTERCOM_CONTACT_ATTRIBUTES: 'extras.cpf:cpf,context.orderId:conversation.order_id',
  });
  const intercom = s.helpdesk as IntercomEmulator;
  const maria = s.customer('5511987654321@wa.gw.msging.net');
  s.lime.setContact(maria, MARIA);
  seedConversation(s, maria);
  handOver(s, maria, { team: 'billing', data: { orderId: '88412' } });
  const conversation = await intercom.waitFor(
    () =>
      [...intercom.conversations.values()].find(
        (c) => c.team_assignee_id && c.parts.some((p) => p.part_type === 'note'),
      ),
    20_000,
    'the assigned conversation with its note',
  );
  expect(conversation.team_assignee_id).toBe(5017691);
  expect(conversation.title).toBe('BLiP chat: Maria Oliveira');
  expect(conversation.custom_attributes).toEqual({ order_id: '88412' });
  // Bodies are HTML to Intercom: the text goes escaped, in a paragraph (issue 17.7).
  expect(conversation.source.body).toBe('<p>[The bot handed the customer over to team billing.]</p>');
  expect(intercom.contacts.get(conversation.contactId)).toMatchObject({
    name: 'Maria Oliveira',
    email: 'maria.oliveira@example.com.br',
    phone: '+5511987654321',
    custom_attributes: { cpf: '12345678909' },
  });
  const note = intercom.tickets().find((t) => t.id === conversation.id)!.bridgeNotes[0]!;
  expect(note).toContain('Bot: Vou te transferir para um atendente.');
  expect(note).toContain('image/jpeg boleto.jpg: https://blipmediastore.example/');
});

it('ServiceNow: urgency and impact, assignment group, mapped columns, contact line and work note', async () => {
  const group = 'a'.repeat(32);
  const s = await start('servicenow', {
    BRIDGE_TRANSCRIPT: 'note',
    SERVICENOW_ASSIGNMENT_GROUPS: `billing:${group}`,
    SERVICENOW_CONTACT_FIELDS: 'extras.cpf:u_cpf,name:u_blip_name,context.orderId:u_order',
  });
  const sn = s.helpdesk as ServiceNowEmulator;
  const maria = s.customer('5511987654321@wa.gw.msging.net');
  s.lime.setContact(maria, MARIA);
  seedConversation(s, maria);
  handOver(s, maria, { team: 'billing', priority: 'urgent', text: 'Preciso de um atendente' });
  const record = await sn.waitFor(
    () => [...sn.records.values()].find((r) => sn.entriesOf(r.sys_id!, 'work_notes').length > 0),
    20_000,
    'the record with its transcript work note',
  );
  expect(record).toMatchObject({
    urgency: '1',
    impact: '1',
    assignment_group: group,
    u_cpf: '12345678909',
    u_blip_name: 'Maria Oliveira',
    short_description: 'BLiP chat: Maria Oliveira',
  });
  expect(record.u_order).toBeUndefined(); // the context had no orderId
  expect(record.description).toBe(
    'BLiP contact: Maria Oliveira · maria.oliveira@example.com.br · +5511987654321\n\nPreciso de um atendente',
  );
  expect(sn.entriesOf(record.sys_id!, 'work_notes')[0]!.value).toContain('Customer: Foto do boleto');
});
