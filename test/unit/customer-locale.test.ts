/**
 * Each customer's locale (issue 20 item 6): matched from a culture or language tag, taken from the Redirect context
 * or the contact (looked up once per handoff), recorded on the conversation, and used for every text of it.
 */
import { parseHandoffContext } from '../../src/blip/handoff-context';
import { loadConfig } from '../../src/config';
import { TicketDetails } from '../../src/core/handoff/details';
import { silentLogger } from '../../src/core/logger';
import type { ChatMessage, CustomerRef } from '../../src/core/model';
import type { CustomerDirectory } from '../../src/core/ports';
import { matchLocale } from '../../src/core/texts';
import { LOCALES, localeTexts } from '../../src/texts';
import { startCore } from '../helpers/core-harness';

const LUCIA: CustomerRef = {
  key: '5215512345678@wa.gw.msging.net',
  address: '5215512345678@wa.gw.msging.net',
};
const hello = (id: string, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  id,
  text: 'Hola',
  at: '2026-12-07T12:00:00.000Z',
  ...extra,
});

describe('matchLocale', () => {
  it.each([
    ['es', 'es'],
    ['es-MX', 'es'],
    ['ES_ar', 'es'],
    ['pt-BR', 'pt-BR'],
    ['pt', 'pt-BR'],
    ['pt-PT', 'pt-BR'],
    ['en-US', 'en'],
    ['fr-FR', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (given, expected) => {
    expect(matchLocale(given, LOCALES)).toBe(expected);
  });
});

it('has every text in every locale, none blank but the ones that are off by default', () => {
  for (const locale of LOCALES) {
    for (const [key, text] of Object.entries(localeTexts[locale])) {
      if (key !== 'inactivity') expect(`${locale}.${key}: ${text.trim()}`).not.toMatch(/: $/);
    }
  }
});

it("reads the Redirect context's locale", () => {
  expect(parseHandoffContext('context:1', 'application/json', { locale: ' es-MX ' })?.handoff).toEqual({
    locale: 'es-MX',
  });
});

describe('a handoff in the customer’s own language', () => {
  const env = {
    BLIP_IDENTIFIER: 'bridge',
    BLIP_ACCESS_KEY: 'YmxpcA==',
    ZENDESK_SUBDOMAIN: 'acme',
    ZENDESK_EMAIL: 'bot@acme.com',
    ZENDESK_API_TOKEN: 'token',
    ZENDESK_WEBHOOK_SECRET: 'secret',
  };

  function start(perCustomer: boolean, culture: string | undefined) {
    const config = loadConfig({ ...env, BRIDGE_CUSTOMER_LOCALE: String(perCustomer) });
    const lookups: string[] = [];
    const directory: CustomerDirectory = {
      history: async () => [],
      contact: async (c) => {
        lookups.push(c.key);
        return { name: 'Lucía', ...(culture ? { culture } : {}) };
      },
    };
    const h = startCore({
      lifecycle: config.lifecycle,
      settings: { closingText: config.bridge.closingText },
      texts: config.texts,
      details: new TicketDetails({ tags: [] }, silentLogger, directory),
    });
    return { h, lookups };
  }

  it('records the contact’s locale, looks the contact up once, and sends its texts', async () => {
    const { h, lookups } = start(true, 'es-MX');
    try {
      await h.write(LUCIA, hello('m1'));
      expect(lookups).toEqual([LUCIA.key]);
      expect((await h.state.store.get(LUCIA.key))?.locale).toBe('es');
      expect(h.timeline.of('send').map((s) => s.text)).toEqual([localeTexts.es.waiting]);
      expect(h.timeline.of('openTicket')[0]?.req.contact).toEqual({ name: 'Lucía', culture: 'es-MX' });
    } finally {
      await h.stop();
    }
  });

  it("prefers the Redirect context's locale over the contact's culture", async () => {
    const { h } = start(true, 'es');
    try {
      await h.write(LUCIA, hello('context:1', { handoff: { locale: 'en-GB' } }));
      expect((await h.state.store.get(LUCIA.key))?.locale).toBe('en');
      expect(h.timeline.of('send').map((s) => s.text)).toEqual([localeTexts.en.waiting]);
    } finally {
      await h.stop();
    }
  });

  it('keeps the deployment’s locale when per-customer locales are off or the culture is unknown', async () => {
    for (const [perCustomer, culture] of [
      [false, 'es'],
      [true, 'fr-FR'],
    ] as const) {
      const { h, lookups } = start(perCustomer, culture);
      try {
        await h.write(LUCIA, hello('m1'));
        expect((await h.state.store.get(LUCIA.key))?.locale).toBe('pt-BR');
        expect(h.timeline.of('send').map((s) => s.text)).toEqual([localeTexts['pt-BR'].waiting]);
        expect(lookups).toHaveLength(1); // the ticket's details only, or the locale's lookup reused
      } finally {
        await h.stop();
      }
    }
  });
});
