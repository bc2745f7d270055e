import { randomUUID } from 'node:crypto';
import type { LimeCommand } from 'blip-sdk';
import { z } from 'zod';
import { PermanentError } from '../core/errors';
import type { ContactInfo, CustomerRef, HistoryEntry } from '../core/model';
import type { CustomerDirectory } from '../core/ports';
import { renderDocument } from './content';
import { domainOf, identityOf } from './envelope';

/** What the directory needs from the LIME session (BlipConnection). */
export interface CommandSender {
  sendCommand(command: LimeCommand): Promise<LimeCommand>;
}

/** Thread items that say nothing to an agent: typing indicators, and the bridge's own hand-back. */
const SKIPPED_TYPES = new Set([
  'application/vnd.lime.chatstate+json',
  'application/vnd.lime.redirect+json',
  'application/vnd.lime.notification+json',
]);

/**
 * The core's CustomerDirectory over the bridge's own LIME session, with the commands BLiP documents
 * (test/fixtures/lime/, fixtures 19-20):
 * - `get /contacts/{identity}` to `postmaster@crm.<domain>`: name, email, phone, city, extras (the router's roster
 *   answers for the tunnel identity); when it has no contact, `get lime://tunnel.<domain>/accounts/{tunnel id}` to
 *   `postmaster@tunnel.<domain>` gives the router's account (full name, phone) for a tunnel identity;
 * - `get /threads/{identity}?refreshExpiredMedia=true&$take=N` to `postmaster@<domain>`: the thread's recent
 *   messages (`application/vnd.iris.thread-message+json`, newest first), rendered like live messages.
 * A WhatsApp customer's phone number is taken from the tunnel originator when the contact has none.
 *
 * Whose thread: the bridge's own session reads the bridge's thread with the tunnel, which holds only what the router
 * forwarded to this subbot (the bot conversation before the handoff happened between the customer and the router's
 * other bots, so it is not there). With `routerHistory` (BLIP_HISTORY_KEY: the router's key, over BLiP's HTTP
 * commands) the router's own thread with the real customer (`#tunnel.originator`) is read instead: the whole
 * conversation. A customer without an originator (not behind a router) still gets the bridge's own thread.
 */
export class BlipCustomerDirectory implements CustomerDirectory {
  constructor(
    private readonly connection: CommandSender,
    private readonly domain = 'msging.net',
    private readonly routerHistory?: CommandSender,
  ) {}

  async contact(customer: CustomerRef): Promise<ContactInfo | undefined> {
    const identity = identityOf(customer.key);
    const fromContacts = await this.get(
      `postmaster@crm.${this.domain}`,
      `/contacts/${identity}`,
      contactSchema,
    );
    let contact: ContactInfo = fromContacts ? contactInfo(fromContacts) : {};
    if (!contact.name && domainOf(identity) === `tunnel.${this.domain}`) {
      const tunnelId = identity.split('@')[0] ?? '';
      const account = await this.get(
        `postmaster@tunnel.${this.domain}`,
        `lime://tunnel.${this.domain}/accounts/${tunnelId}`,
        accountSchema,
      ).catch(() => undefined); // the account is a bonus: the contact (if any) still counts
      if (account) {
        contact = {
          ...contact,
          ...(!contact.name && clean(account.fullName) ? { name: clean(account.fullName) } : {}),
          ...(!contact.phone && clean(account.phoneNumber) ? { phone: clean(account.phoneNumber) } : {}),
        };
      }
    }
    const phone = contact.phone ?? whatsAppPhone(customer.originator);
    if (phone) contact = { ...contact, phone };
    return Object.keys(contact).length ? contact : undefined;
  }

  async history(customer: CustomerRef, limit: number): Promise<HistoryEntry[]> {
    const viaRouter = this.routerHistory && customer.originator ? this.routerHistory : undefined;
    const identity = identityOf(viaRouter ? customer.originator! : customer.key);
    const take = Math.max(1, Math.min(100, Math.floor(limit)));
    const thread = await this.get(
      `postmaster@${this.domain}`,
      `/threads/${identity}?refreshExpiredMedia=true&$take=${take}`,
      threadSchema,
      viaRouter,
    );
    const entries: HistoryEntry[] = [];
    for (const item of thread?.items ?? []) {
      if (SKIPPED_TYPES.has(item.type)) continue;
      const { text, attachments } = renderDocument({ type: item.type, content: item.content });
      entries.push({
        id: item.id ?? `${item.date}:${entries.length}`,
        at: item.date,
        from: item.direction === 'sent' ? 'bot' : 'customer',
        text,
        ...(attachments.length ? { attachments } : {}),
      });
    }
    // BLiP lists the newest first.
    return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).slice(-take);
  }

  /** One `get` command; undefined when BLiP answers "resource not found" (67). */
  private async get<S extends z.ZodType>(
    to: string,
    uri: string,
    schema: S,
    via: CommandSender = this.connection,
  ): Promise<z.infer<S> | undefined> {
    let response: LimeCommand;
    try {
      response = await via.sendCommand({ id: randomUUID(), to, method: 'get', uri });
    } catch (err) {
      if (failureCode(err) === 67) return undefined;
      throw err;
    }
    if (response.status === 'failure') {
      if (response.reason?.code === 67) return undefined;
      throw new PermanentError(
        `BLiP get ${uri.split('?')[0]} failed: ${response.reason?.code ?? ''} ${response.reason?.description ?? ''}`.trim(),
        'BLIP_COMMAND_FAILED',
      );
    }
    const parsed = schema.safeParse(response.resource);
    if (!parsed.success) {
      throw new PermanentError(
        `BLiP get ${uri.split('?')[0]}: unexpected resource (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`,
        'BLIP_BAD_RESOURCE',
      );
    }
    return parsed.data;
  }
}

/** blip-sdk rejects a failed command with an Error whose message is the response as JSON. */
function failureCode(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  try {
    const parsed = JSON.parse(err.message) as { reason?: { code?: unknown } };
    return typeof parsed.reason?.code === 'number' ? parsed.reason.code : undefined;
  } catch {
    return undefined;
  }
}

const text = z.string().nullish();
const contactSchema = z.looseObject({
  name: text,
  fullName: text,
  email: text,
  phoneNumber: text,
  cellPhoneNumber: text,
  city: text,
  culture: text,
  extras: z.record(z.string(), z.unknown()).nullish(),
});
const accountSchema = z.looseObject({ fullName: text, phoneNumber: text });
const threadSchema = z.looseObject({
  items: z.array(
    z.looseObject({
      id: z.string().nullish(),
      direction: z.string().nullish(),
      type: z.string(),
      content: z.unknown(),
      date: z.string(),
    }),
  ),
});

function contactInfo(c: z.infer<typeof contactSchema>): ContactInfo {
  const extras = Object.fromEntries(
    Object.entries(c.extras ?? {}).flatMap(([k, v]) =>
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? [[k, String(v)]] : [],
    ),
  );
  const name = clean(c.name) ?? clean(c.fullName);
  const email = clean(c.email);
  const phone = clean(c.phoneNumber) ?? clean(c.cellPhoneNumber);
  const city = clean(c.city);
  const culture = clean(c.culture);
  return {
    ...(name ? { name } : {}),
    ...(email ? { email } : {}),
    ...(phone ? { phone } : {}),
    ...(city ? { city } : {}),
    ...(culture ? { culture } : {}),
    ...(Object.keys(extras).length ? { extras } : {}),
  };
}

function clean(value: string | null | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/** `5511987654321@wa.gw.msging.net` → `+5511987654321`. */
function whatsAppPhone(originator: string | undefined): string | undefined {
  const m = /^(\d{8,15})@wa\.gw\.msging\.net$/i.exec(originator ?? '');
  return m ? `+${m[1]}` : undefined;
}
