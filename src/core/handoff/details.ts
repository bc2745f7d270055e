import { errorCode, errorMessage } from '../errors';
import { logTag } from '../ids';
import type { Logger } from '../logger';
import type {
  ChatMessage,
  ContactInfo,
  CustomerRef,
  HistoryEntry,
  OpeningDetails,
  TicketFields,
  TicketPriority,
} from '../model';
import type { CustomerDirectory } from '../ports';
import { renderTranscript } from './transcript';

/** The placeholders `BRIDGE_SUBJECT_TEMPLATE` may use. */
export const SUBJECT_PLACEHOLDERS = [
  'name',
  'channel',
  'phone',
  'email',
  'customer',
  'team',
  'priority',
  'text',
] as const;

export const DEFAULT_SUBJECT_TEMPLATE = 'BLiP chat: {name}';

/** The longest subject the bridge sends (ServiceNow's short_description takes 160; the adapter cuts again). */
const SUBJECT_MAX = 150;
/** Tags from the Redirect context: at most this many, each at most this long. */
const CONTEXT_TAGS_MAX = 10;
const TAG_MAX = 50;
/** Contacts kept between the locale's lookup and the ticket's details, at most. */
const LOOKED_MAX = 1_000;

export interface TicketDetailsOptions {
  /** Tags on every ticket (`BRIDGE_TICKET_TAGS`). */
  tags: string[];
  /** `BRIDGE_SUBJECT_TEMPLATE`; placeholders in SUBJECT_PLACEHOLDERS. */
  subjectTemplate?: string;
  /** Default team / group / queue (`BRIDGE_TEAM`); the Redirect context's `team` wins. */
  team?: string;
  /** Default priority (`BRIDGE_PRIORITY`); the Redirect context's `priority` wins. */
  priority?: TicketPriority;
  /** Where the bot conversation goes (`BRIDGE_TRANSCRIPT`), and how many messages (`BRIDGE_TRANSCRIPT_MESSAGES`). */
  transcript?: { as: 'note' | 'comment' | 'off'; messages: number };
  /** Look the customer's contact up in BLiP (`BRIDGE_CONTACT_LOOKUP`). */
  contactLookup?: boolean;
  /** How long each directory call may take before the ticket opens without it. */
  timeoutMs?: number;
  /** IANA zone of the transcript's times. */
  timeZone?: string;
}

/**
 * What a new ticket opens with besides the customer's first message: the subject, tags, team and priority (from
 * the configuration and the Redirect context), the customer's contact and the transcript of their conversation
 * with the bot (from BLiP, through the CustomerDirectory port). A directory that fails or is slow never holds up
 * the handoff: each call is bounded, logged, and the ticket opens without what is missing.
 */
export class TicketDetails {
  /** Contacts looked up for the customer's locale, kept for the details of the ticket that follows (bounded). */
  private readonly looked = new Map<string, ContactInfo | undefined>();

  constructor(
    private readonly options: TicketDetailsOptions,
    private readonly logger: Logger,
    private readonly directory?: CustomerDirectory,
  ) {}

  /**
   * The customer's `culture` from their contact (for the texts' locale); undefined when the directory has none, fails
   * or is slow. The contact is kept for the ticket's details, so the handoff looks it up once.
   */
  async culture(customer: CustomerRef): Promise<string | undefined> {
    if (!this.directory) return undefined;
    const contact = await this.bounded('contact', { customer: logTag(customer.key) }, () =>
      this.directory!.contact(customer),
    );
    if (this.looked.size >= LOOKED_MAX) this.looked.delete(this.looked.keys().next().value as string);
    this.looked.set(customer.key, contact);
    return contact?.culture;
  }

  /**
   * `canNote`: the adapter can write internal notes (otherwise a `note` transcript goes into the first comment).
   * `native`: the adapter takes the history in a field of its own (`takesHistory`): the transcript goes there.
   */
  async gather(
    customer: CustomerRef,
    first: ChatMessage,
    canNote: boolean,
    native = false,
  ): Promise<OpeningDetails> {
    const o = this.options;
    const transcriptMode = o.transcript?.as ?? 'off';
    const log = { customer: logTag(customer.key) };
    const known = this.looked.has(customer.key);
    const looked = this.looked.get(customer.key);
    this.looked.delete(customer.key);
    const [contact, history] = await Promise.all([
      o.contactLookup !== false && this.directory
        ? known
          ? looked
          : this.bounded('contact', log, () => this.directory!.contact(customer))
        : undefined,
      transcriptMode !== 'off' && this.directory && (o.transcript?.messages ?? 0) > 0
        ? this.bounded('history', log, () =>
            // One more than asked: the first message itself is usually the newest item of the thread.
            this.directory!.history(customer, (o.transcript?.messages ?? 0) + 1),
          )
        : undefined,
    ]);
    const handoff = first.handoff;
    const fields: TicketFields = {
      ...(handoff?.team?.trim() || o.team ? { team: handoff?.team?.trim() || o.team } : {}),
      ...(handoff?.priority || o.priority ? { priority: handoff?.priority ?? o.priority } : {}),
      ...(handoff?.data && Object.keys(handoff.data).length ? { data: handoff.data } : {}),
    };
    const tags = unique([
      ...o.tags,
      ...(handoff?.tags ?? []).map(tagOf).filter(Boolean).slice(0, CONTEXT_TAGS_MAX),
    ]);
    const entries = history ? before(history, first, o.transcript?.messages ?? 0) : undefined;
    const text = entries ? renderTranscript(entries, { timeZone: o.timeZone ?? 'UTC' }) : undefined;
    const as =
      transcriptMode === 'off'
        ? 'off'
        : native
          ? 'native'
          : transcriptMode === 'note' && !canNote
            ? 'comment'
            : transcriptMode;
    return {
      subject:
        handoff?.subject?.trim().slice(0, SUBJECT_MAX) || this.subject(customer, contact, fields, first),
      tags,
      ...(contact && Object.keys(contact).length ? { contact } : {}),
      ...(Object.keys(fields).length ? { fields } : {}),
      ...(text && as !== 'off' ? { transcript: { text, as, ...(as === 'native' ? { entries } : {}) } } : {}),
    };
  }

  private subject(
    customer: CustomerRef,
    contact: ContactInfo | undefined,
    fields: TicketFields,
    first: ChatMessage,
  ): string {
    const values: Record<(typeof SUBJECT_PLACEHOLDERS)[number], string> = {
      name: contact?.name ?? customer.name ?? customer.originator ?? customer.key,
      channel: customer.channel ?? 'BLiP',
      phone: contact?.phone ?? '',
      email: contact?.email ?? '',
      customer: customer.originator ?? customer.key,
      team: fields.team ?? '',
      priority: fields.priority ?? '',
      text: firstLine(first.text, 60),
    };
    const template = this.options.subjectTemplate ?? DEFAULT_SUBJECT_TEMPLATE;
    const subject = template
      .replace(/\{(\w+)\}/g, (whole, key: string) =>
        key in values ? values[key as keyof typeof values] : whole,
      )
      .replace(/\s+/g, ' ')
      .trim();
    return (subject || `BLiP chat: ${values.name}`).slice(0, SUBJECT_MAX);
  }

  /** One directory call, bounded by the timeout; undefined (logged) when it fails or is too slow. */
  private async bounded<T>(
    what: 'contact' | 'history',
    log: Record<string, unknown>,
    work: () => Promise<T>,
  ): Promise<T | undefined> {
    const timeoutMs = this.options.timeoutMs ?? 3_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const result = await Promise.race([work(), timeout]);
      if (result === 'timeout') {
        this.logger.warn(`BLiP ${what} lookup timed out; the ticket opens without it`, {
          ...log,
          timeoutMs,
          code: what === 'contact' ? 'DIRECTORY_CONTACT_TIMEOUT' : 'DIRECTORY_HISTORY_TIMEOUT',
        });
        return undefined;
      }
      return result;
    } catch (err) {
      this.logger.warn(`BLiP ${what} lookup failed; the ticket opens without it`, {
        ...log,
        code: what === 'contact' ? 'DIRECTORY_CONTACT_FAILED' : 'DIRECTORY_HISTORY_FAILED',
        cause: errorCode(err),
        error: errorMessage(err),
      });
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The history before the first message: without that message itself (the thread already holds it) nor anything
 * after it, the last `limit` entries, oldest first.
 */
function before(history: HistoryEntry[], first: ChatMessage, limit: number): HistoryEntry[] {
  const firstAt = Date.parse(first.at);
  return history
    .filter((e) => e.id !== first.id && !(Date.parse(e.at) > firstAt))
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
    .slice(-limit);
}

/** A tag as helpdesks take it: lower case, no spaces. */
function tagOf(raw: string): string {
  return raw
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '_')
    .replace(/[^\p{L}\p{N}_:./-]/gu, '')
    .slice(0, TAG_MAX);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function firstLine(text: string, max: number): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
