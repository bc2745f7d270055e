/**
 * What a new ticket opens with (src/core/ticket-details.ts, src/core/transcript.ts), the adapters' field maps
 * (src/adapters/shared/field-map.ts), the handoff settings (src/handoff-config.ts) and the Zendesk setup's
 * triggers against the shared fixtures.
 */
import { bridgeTriggers } from '../../src/adapters/zendesk/setup';
import { fieldMapSetting, mappedValues, nameMapSetting, teamId } from '../../src/adapters/shared/field-map';
import { ConfigError, loadConfig } from '../../src/config';
import { silentLogger, type Logger } from '../../src/core/logger';
import type { ChatMessage, CustomerRef, HistoryEntry, OpenTicketRequest } from '../../src/core/model';
import type { CustomerDirectory } from '../../src/core/ports';
import { TicketDetails } from '../../src/core/handoff/details';
import { renderTranscript } from '../../src/core/handoff/transcript';
import { applyEvent } from '../../src/reports/record';
import { FakeHelpdesk, startCore } from '../helpers/core-harness';
import { readJsonFixture } from '../helpers/fixtures';

const MARIA: CustomerRef = {
  key: '8c1e5f7a@tunnel.msging.net',
  address: '8c1e5f7a@tunnel.msging.net',
  originator: '5511987654321@wa.gw.msging.net',
  // Named by the BLiP edge (the core knows no channel addresses).
  channel: 'WhatsApp',
};
const FIRST: ChatMessage = {
  id: 'm-now',
  text: 'Preciso de ajuda\ncom o boleto',
  at: '2026-11-03T14:10:00.000Z',
};

const HISTORY: HistoryEntry[] = [
  { id: 'h1', at: '2026-11-03T14:01:00.000Z', from: 'customer', text: 'Oi' },
  { id: 'h2', at: '2026-11-03T14:02:00.000Z', from: 'bot', text: 'Olá!\nComo posso ajudar?' },
  {
    id: 'h3',
    at: '2026-11-03T14:03:00.000Z',
    from: 'customer',
    text: '[image]',
    attachments: [{ url: 'https://media.example/boleto.jpg', mimeType: 'image/jpeg', name: 'boleto.jpg' }],
  },
  { id: 'm-now', at: '2026-11-03T14:09:59.000Z', from: 'customer', text: 'Preciso de ajuda' },
  { id: 'later', at: '2026-11-03T14:11:00.000Z', from: 'customer', text: 'depois' },
];

function directory(overrides: Partial<CustomerDirectory> = {}): CustomerDirectory {
  return {
    history: async () => HISTORY,
    contact: async () => ({ name: 'Maria Oliveira', email: 'maria@example.com', phone: '+5511987654321' }),
    ...overrides,
  };
}

function recordingLogger(): Logger & { codes: unknown[] } {
  const codes: unknown[] = [];
  return { ...silentLogger, codes, warn: (_m, meta) => codes.push(meta?.code) };
}

describe('transcript', () => {
  it('lists each message with its local time, who said it, and files as links', () => {
    expect(renderTranscript(HISTORY.slice(0, 3), { timeZone: 'America/Sao_Paulo' })).toBe(
      [
        'BLiP conversation before the handoff (last 3 messages; times in America/Sao_Paulo):',
        '[2026-11-03 11:01:00] Customer: Oi',
        '[2026-11-03 11:02:00] Bot: Olá!',
        '    Como posso ajudar?',
        '[2026-11-03 11:03:00] Customer: [image]',
        '    image/jpeg boleto.jpg: https://media.example/boleto.jpg',
      ].join('\n'),
    );
    expect(renderTranscript([], { timeZone: 'UTC' })).toBeUndefined();
  });

  it('drops the oldest lines to stay under the size limit, and says so', () => {
    const long = Array.from({ length: 50 }, (_, i) => ({
      id: String(i),
      at: new Date(Date.UTC(2026, 10, 3, 14, i)).toISOString(),
      from: 'customer' as const,
      text: `message ${i} ${'x'.repeat(80)}`,
    }));
    const text = renderTranscript(long, { timeZone: 'UTC', maxChars: 1_000 })!;
    expect(text.length).toBeLessThanOrEqual(1_000);
    expect(text).toContain('older message(s) left out');
    expect(text).toContain('message 49');
    expect(text).not.toContain('message 0 ');
  });
});

describe('TicketDetails', () => {
  it('gathers the contact and the transcript before the first message, and the configured fields', async () => {
    const details = new TicketDetails(
      {
        tags: ['blip_bridge'],
        transcript: { as: 'note', messages: 2 },
        subjectTemplate: '[{channel}] {name} <{email}> {phone} {team}/{priority}: {text}',
        team: 'support',
        priority: 'low',
        timeZone: 'UTC',
      },
      silentLogger,
      directory(),
    );
    const opening = await details.gather(MARIA, FIRST, true);
    expect(opening.subject).toBe(
      '[WhatsApp] Maria Oliveira <maria@example.com> +5511987654321 support/low: Preciso de ajuda',
    );
    expect(opening.tags).toEqual(['blip_bridge']);
    expect(opening.fields).toEqual({ team: 'support', priority: 'low' });
    expect(opening.contact?.name).toBe('Maria Oliveira');
    // The last 2 before the first message: not the message itself, not what came after it.
    expect(opening.transcript?.as).toBe('note');
    expect(opening.transcript?.text.split('\n').slice(1)).toEqual([
      '[2026-11-03 14:02:00] Bot: Olá!',
      '    Como posso ajudar?',
      '[2026-11-03 14:03:00] Customer: [image]',
      '    image/jpeg boleto.jpg: https://media.example/boleto.jpg',
    ]);
  });

  it('lets the Redirect context name the team, priority, tags and subject', async () => {
    const details = new TicketDetails(
      { tags: ['blip_bridge'], team: 'support', priority: 'low' },
      silentLogger,
      directory(),
    );
    const opening = await details.gather(
      MARIA,
      {
        ...FIRST,
        handoff: {
          team: 'billing',
          priority: 'urgent',
          tags: ['VIP Cliente', 'blip_bridge', 'a'.repeat(80)],
          subject: '  Segunda via  ',
          data: { orderId: '1' },
        },
      },
      true,
    );
    expect(opening.subject).toBe('Segunda via');
    expect(opening.fields).toEqual({ team: 'billing', priority: 'urgent', data: { orderId: '1' } });
    expect(opening.tags).toEqual(['blip_bridge', 'vip_cliente', 'a'.repeat(50)]);
    expect(opening.transcript).toBeUndefined(); // transcript off by default
  });

  it('gives a vendor with a native history field the entries themselves, not a note (issue 19.3)', async () => {
    const details = new TicketDetails(
      { tags: [], transcript: { as: 'note', messages: 2 } },
      silentLogger,
      directory(),
    );
    const opening = await details.gather(MARIA, FIRST, true, true);
    expect(opening.transcript?.as).toBe('native');
    expect(opening.transcript?.entries?.map((e) => e.id)).toEqual(['h2', 'h3']);
    // Off stays off, native or not.
    const off = new TicketDetails(
      { tags: [], transcript: { as: 'off', messages: 2 } },
      silentLogger,
      directory(),
    );
    expect((await off.gather(MARIA, FIRST, true, true)).transcript).toBeUndefined();
  });

  it('opens the ticket of a takesHistory vendor with req.history, and writes no transcript note', async () => {
    class HistoryDesk extends FakeHelpdesk {
      readonly takesHistory = true;
    }
    for (const native of [true, false]) {
      const h = startCore({
        helpdesks: (timeline) => [native ? new HistoryDesk(timeline) : new FakeHelpdesk(timeline)],
        details: new TicketDetails(
          { tags: ['blip_bridge'], transcript: { as: 'note', messages: 5 } },
          silentLogger,
          directory(),
        ),
      });
      try {
        await h.write(MARIA, FIRST);
        const [open] = h.timeline.of('openTicket');
        const notes = h.timeline.of('note');
        if (native) {
          expect(open?.req.history?.map((e) => e.id)).toEqual(['h1', 'h2', 'h3']);
          expect(notes).toEqual([]);
        } else {
          expect(open?.req.history).toBeUndefined();
          expect(notes).toHaveLength(1);
        }
      } finally {
        await h.stop();
      }
    }
  });

  it('puts a note transcript into the first comment for an adapter without internal notes', async () => {
    const details = new TicketDetails(
      { tags: [], transcript: { as: 'note', messages: 5 } },
      silentLogger,
      directory(),
    );
    expect((await details.gather(MARIA, FIRST, false)).transcript?.as).toBe('comment');
  });

  it('opens without what a failing or slow directory could not give, and logs why', async () => {
    const logger = recordingLogger();
    const details = new TicketDetails(
      { tags: [], transcript: { as: 'note', messages: 5 }, timeoutMs: 50 },
      logger,
      directory({
        history: () => new Promise(() => {}), // never answers
        contact: () => Promise.reject(new Error('session lost')),
      }),
    );
    const opening = await details.gather(MARIA, FIRST, true);
    expect(opening).toEqual({ subject: 'BLiP chat: 5511987654321@wa.gw.msging.net', tags: [] });
    expect(logger.codes.sort()).toEqual(['DIRECTORY_CONTACT_FAILED', 'DIRECTORY_HISTORY_TIMEOUT']);
  });

  it('asks nothing when the lookups are off', async () => {
    let asked = 0;
    const count = async () => {
      asked++;
      return undefined;
    };
    const details = new TicketDetails(
      { tags: [], contactLookup: false, transcript: { as: 'off', messages: 5 } },
      silentLogger,
      { history: async () => (asked++, []), contact: count },
    );
    await details.gather(MARIA, FIRST, true);
    expect(asked).toBe(0);
  });
});

describe('field maps', () => {
  const request: OpenTicketRequest = {
    customer: MARIA,
    sessionId: 's',
    subject: 's',
    tags: [],
    first: FIRST,
    contact: { name: 'Maria', email: 'm@example.com', extras: { cpf: '123', empty: '' } },
    fields: { team: 'billing', priority: 'high', data: { orderId: '88412' } },
  };

  it('parses source:target pairs and resolves each source for the request', () => {
    const map = fieldMapSetting(/^\d+$|^user\.\w+$/, 'x').parse(
      ' extras.cpf:360001, email:user.mail,context.orderId:360002,extras.empty:360003,phone:360004,team:360005,originator:360006',
    );
    expect(mappedValues(map, request)).toEqual([
      { target: '360001', value: '123' },
      { target: 'user.mail', value: 'm@example.com' },
      { target: '360002', value: '88412' },
      { target: '360005', value: 'billing' },
      { target: '360006', value: '5511987654321@wa.gw.msging.net' },
    ]);
    expect(fieldMapSetting(/^\d+$/, 'x').parse(undefined)).toEqual([]);
  });

  it('refuses unknown sources and targets the vendor does not take', () => {
    expect(fieldMapSetting(/^\d+$/, 'a ticket field id').safeParse('cpf:360001').success).toBe(false);
    expect(fieldMapSetting(/^\d+$/, 'a ticket field id').safeParse('extras.cpf:custom').success).toBe(false);
    expect(nameMapSetting(/^\d+$/, 'a group id').safeParse('billing:abc').success).toBe(false);
  });

  it('maps team names (case-insensitive) to ids, passes ids through, reports the rest', () => {
    const groups = nameMapSetting(/^\d+$/, 'x').parse('Billing:20001, support:20002');
    expect(teamId('BILLING', groups, /^\d+$/)).toEqual({ id: '20001' });
    expect(teamId('30003', groups, /^\d+$/)).toEqual({ id: '30003' });
    expect(teamId('sales', groups, /^\d+$/)).toEqual({ unmapped: 'sales' });
    expect(teamId(undefined, groups, /^\d+$/)).toEqual({});
  });
});

describe('settings', () => {
  const env = {
    BLIP_IDENTIFIER: 'acmehelpdesk',
    BLIP_ACCESS_KEY: 'a2V5',
    ZENDESK_SUBDOMAIN: 'acme',
    ZENDESK_EMAIL: 'bridge@acme.com.br',
    ZENDESK_API_TOKEN: 't',
    ZENDESK_WEBHOOK_SECRET: 's',
  };

  it('defaults: transcript as a note of 20 messages, contact lookup on, reopen off', () => {
    expect(loadConfig(env).handoff).toEqual({
      transcript: { as: 'note', messages: 20 },
      contactLookup: true,
      directoryTimeoutMs: 3_000,
      subjectTemplate: 'BLiP chat: {name}',
      reopenWindowMs: 0,
      timeZone: 'America/Sao_Paulo',
    });
  });

  it('reads every key and refuses unknown subject placeholders and bad values', () => {
    const config = loadConfig({
      ...env,
      BRIDGE_TRANSCRIPT: 'comment',
      BRIDGE_TRANSCRIPT_MESSAGES: '5',
      BRIDGE_CONTACT_LOOKUP: 'false',
      BRIDGE_TEAM: ' billing ',
      BRIDGE_PRIORITY: 'urgent',
      BRIDGE_REOPEN_WINDOW_MINUTES: '90',
      ZENDESK_GROUPS: 'billing:20001',
      ZENDESK_CONTACT_FIELDS: 'extras.cpf:360001',
    });
    expect(config.handoff).toMatchObject({
      transcript: { as: 'comment', messages: 5 },
      contactLookup: false,
      team: 'billing',
      priority: 'urgent',
      reopenWindowMs: 5_400_000,
    });
    expect(config.vendor.settings).toMatchObject({
      ZENDESK_GROUPS: { billing: '20001' },
      ZENDESK_CONTACT_FIELDS: [{ source: 'extras.cpf', target: '360001' }],
    });
    let error: unknown;
    try {
      loadConfig({
        ...env,
        BRIDGE_SUBJECT_TEMPLATE: 'Chat {nome}',
        BRIDGE_TRANSCRIPT_MESSAGES: '0',
        BRIDGE_PRIORITY: 'p1',
        ZENDESK_CONTACT_FIELDS: 'cpf',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.split(':')[0])).toEqual([
      'BRIDGE_PRIORITY',
      'BRIDGE_SUBJECT_TEMPLATE',
      'BRIDGE_TRANSCRIPT_MESSAGES',
      'ZENDESK_CONTACT_FIELDS',
    ]);
  });
});

it('the Zendesk setup installs the triggers of the shared fixtures', () => {
  const fixture = (name: string) =>
    readJsonFixture<{ trigger: Record<string, unknown> }>(
      `fixtures/vendors/zendesk-trigger-create-${name}.json`,
    ).trigger;
  const webhookId = '01JBX7Q4M9R2T5V8W1Y3Z6C0DF';
  expect(bridgeTriggers(webhookId, 'blip_bridge')).toEqual([
    fixture('agent-public-comment'),
    fixture('ticket-solved'),
    fixture('agent-assigned'),
    fixture('group-changed'),
  ]);
});

it('session reports take the team from handoff.started, before a team_ tag', () => {
  const at = '2026-11-03T14:00:00.000Z';
  const payload = {
    sessionId: 's-1',
    customerKey: MARIA.key,
    ticket: { vendor: 'zendesk', id: '1' },
    customer: MARIA,
    vendor: 'zendesk',
    openedAt: at,
    tags: ['team_sales'],
    at,
  };
  const withTeam = applyEvent(
    undefined,
    { name: 'handoff.started', payload: { ...payload, team: 'billing' } },
    {
      teamTagPrefix: 'team_',
    },
  );
  expect(withTeam.team).toBe('billing');
  const fromTag = applyEvent(undefined, { name: 'handoff.started', payload }, { teamTagPrefix: 'team_' });
  expect(fromTag.team).toBe('sales');
});
