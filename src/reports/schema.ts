/**
 * The session report: one row per handoff, and its column schema. The schema is versioned: a version only ever
 * gains columns at the end; renaming, removing or changing the meaning of a column makes a new version (a new
 * view name, `report_sessions_v2`, next to the old one). docs/reports.md documents every column; a test keeps the
 * two in step.
 */

export const SESSIONS_SCHEMA_VERSION = 1;
/** Sent as the `X-Report-Schema` header and printed by the CLI. */
export const SESSIONS_SCHEMA_ID = `sessions/v${SESSIONS_SCHEMA_VERSION}`;
/** The PostgreSQL/SQLite view that exposes exactly the exported columns, for BI tools. */
export const SESSIONS_VIEW = `report_sessions_v${SESSIONS_SCHEMA_VERSION}`;

export type ColumnType = 'text' | 'timestamp' | 'seconds' | 'integer' | 'boolean';

export interface Column {
  name: keyof SessionRow;
  type: ColumnType;
  description: string;
}

/** Who took part as an agent (assigned or replied), in order of first appearance. */
export interface Participant {
  id: string;
  name: string | null;
}

/**
 * One handoff session. Keys are the column names (snake_case, as in SQL, CSV and NDJSON). Timestamps are ISO-8601
 * UTC strings with milliseconds; durations are seconds with millisecond precision; `null` means unknown / not yet.
 */
export interface SessionRow {
  session_id: string;
  protocol: string | null;
  vendor: string | null;
  ticket_id: string | null;
  channel: string | null;
  channel_domain: string | null;
  router: string | null;
  customer_identity: string | null;
  customer_key: string | null;
  customer_name: string | null;
  team: string | null;
  agent_id: string | null;
  agent_name: string | null;
  agent_ids: string | null;
  agent_names: string | null;
  status: 'open' | 'closed';
  created_at: string;
  ticket_opened_at: string | null;
  first_agent_reply_at: string | null;
  finished_at: string | null;
  waiting_seconds: number | null;
  handle_seconds: number | null;
  total_seconds: number | null;
  closed_by: string | null;
  close_reason: string | null;
  tags: string | null;
  expired: boolean;
  customer_messages: number;
  agent_messages: number;
  automatic_messages: number;
  attachments: number;
  delivery_failures: number;
  handed_back_at: string | null;
  last_event_at: string;
  first_assigned_at: string | null;
  transfers: number;
  locale: string | null;
  rating: number | null;
  survey: string | null;
}

/** The exported columns of schema v1, in order. */
export const SESSION_COLUMNS: readonly Column[] = [
  { name: 'session_id', type: 'text', description: "The bridge's id of the handoff (UUID)." },
  {
    name: 'protocol',
    type: 'text',
    description: 'The number people see: the ticket number (ServiceNow INC0010234), else the ticket id.',
  },
  { name: 'vendor', type: 'text', description: 'Helpdesk: zendesk, intercom, servicenow.' },
  {
    name: 'ticket_id',
    type: 'text',
    description: "The helpdesk's id of the ticket / conversation / incident.",
  },
  {
    name: 'channel',
    type: 'text',
    description:
      "Where the customer writes from: WhatsApp, Instagram, Messenger, Telegram, BLiP Chat, Email…, else the originator's domain.",
  },
  { name: 'channel_domain', type: 'text', description: "The originator's domain, e.g. wa.gw.msging.net." },
  { name: 'router', type: 'text', description: 'The BLiP router that owns the tunnel (#tunnel.owner).' },
  {
    name: 'customer_identity',
    type: 'text',
    description:
      'The real customer (#tunnel.originator, e.g. 5511987654321@wa.gw.msging.net), else the tunnel identity.',
  },
  { name: 'customer_key', type: 'text', description: 'The tunnel identity the bridge talks to.' },
  { name: 'customer_name', type: 'text', description: 'Display name, when known.' },
  {
    name: 'team',
    type: 'text',
    description: 'Team / queue, from a ticket tag with the team prefix; empty when none.',
  },
  {
    name: 'agent_id',
    type: 'text',
    description:
      'The agent responsible at the end (who closed it, else the last assigned or replying agent).',
  },
  { name: 'agent_name', type: 'text', description: "That agent's name, when the helpdesk gave it." },
  {
    name: 'agent_ids',
    type: 'text',
    description: 'Every agent who was assigned or replied, in order of appearance, separated by ";".',
  },
  { name: 'agent_names', type: 'text', description: 'Their names, in the same order, separated by ";".' },
  { name: 'status', type: 'text', description: 'open (in progress) or closed.' },
  {
    name: 'created_at',
    type: 'timestamp',
    description: "When the customer's first message reached the bridge (the handoff started waiting).",
  },
  { name: 'ticket_opened_at', type: 'timestamp', description: 'When the helpdesk confirmed the ticket.' },
  {
    name: 'first_agent_reply_at',
    type: 'timestamp',
    description: 'When the first agent reply reached the customer.',
  },
  { name: 'finished_at', type: 'timestamp', description: 'When the attendance ended (ticket closed).' },
  {
    name: 'waiting_seconds',
    type: 'seconds',
    description: 'created_at → first_agent_reply_at. Empty when no agent replied.',
  },
  {
    name: 'handle_seconds',
    type: 'seconds',
    description: 'first_agent_reply_at → finished_at. Empty while open or when no agent replied.',
  },
  { name: 'total_seconds', type: 'seconds', description: 'created_at → finished_at. Empty while open.' },
  {
    name: 'closed_by',
    type: 'text',
    description: 'agent, customer, expired (inactivity) or out_of_hours.',
  },
  {
    name: 'close_reason',
    type: 'text',
    description: 'The reason the helpdesk or the bridge gave, when any.',
  },
  { name: 'tags', type: 'text', description: 'Ticket tags, separated by ";".' },
  {
    name: 'expired',
    type: 'boolean',
    description: 'true when the session ended by inactivity (closed_by = expired).',
  },
  {
    name: 'customer_messages',
    type: 'integer',
    description: 'Messages from the customer that reached the helpdesk.',
  },
  { name: 'agent_messages', type: 'integer', description: 'Agent replies delivered to the customer.' },
  {
    name: 'automatic_messages',
    type: 'integer',
    description: "The bridge's own texts to the customer (closing text, notices).",
  },
  { name: 'attachments', type: 'integer', description: 'Files exchanged, both directions.' },
  {
    name: 'delivery_failures',
    type: 'integer',
    description: 'Messages BLiP reported as not delivered to the customer.',
  },
  {
    name: 'handed_back_at',
    type: 'timestamp',
    description: 'When the Redirect handed the customer back to the bot.',
  },
  {
    name: 'last_event_at',
    type: 'timestamp',
    description: 'The latest event recorded for the session (retention runs on it).',
  },
  {
    name: 'first_assigned_at',
    type: 'timestamp',
    description:
      'When an agent was first assigned to the ticket. Empty when the helpdesk reported no assignment.',
  },
  {
    name: 'transfers',
    type: 'integer',
    description: 'How many times the ticket moved to another team / group / assignment group.',
  },
  {
    name: 'locale',
    type: 'text',
    description: "The language of the customer's texts in this handoff (pt-BR, en, es).",
  },
  {
    name: 'rating',
    type: 'integer',
    description: "The customer's satisfaction rating, 1 to 5 (BRIDGE_SURVEY=bridge). Empty when not rated.",
  },
  {
    name: 'survey',
    type: 'text',
    description:
      'How the satisfaction survey ended: answered, unanswered (timed out), invalid (no rating twice), interrupted (a message that was no answer). Empty: no survey.',
  },
];

/**
 * Columns added by a later store migration (appended to the table and the view): the first migration creates the
 * view without them, so a database migrated step by step and a new one end up alike.
 */
export const COLUMNS_ADDED_BY_MIGRATION: Readonly<Record<number, readonly (keyof SessionRow)[]>> = {
  2: ['first_assigned_at', 'transfers'],
  3: ['locale', 'rating', 'survey'],
};

/** The exported columns as of store migration `version`. */
export function sessionColumnsAt(version: number): (keyof SessionRow)[] {
  const later = Object.entries(COLUMNS_ADDED_BY_MIGRATION)
    .filter(([v]) => Number(v) > version)
    .flatMap(([, names]) => names);
  return SESSION_COLUMN_NAMES.filter((n) => !later.includes(n));
}

export const SESSION_COLUMN_NAMES: readonly (keyof SessionRow)[] = SESSION_COLUMNS.map((c) => c.name);

/** One line of the talk log. Text and media links are stored only when text storage is on, and then encrypted. */
export interface TalkEntry {
  session_id: string;
  /** Unique within the session (`customer:<message id>`, …): a repeated event is recorded once. */
  entry_id: string;
  at: string;
  origin: 'customer' | 'agent' | 'automatic';
  /** Content type (`text/plain`, `application/vnd.lime.media-link+json`…). */
  type: string;
  /** For automatic messages: closing, waiting…; for agent messages: the agent id. */
  detail: string | null;
  attachments: number;
  /** AES-256-GCM token (see crypto.ts), or null when text storage is off. */
  text_enc: string | null;
  /** The media links as an encrypted JSON array, or null. */
  media_enc: string | null;
}

/** What the store keeps: the row plus the participants as a list (the row has them joined). */
export interface SessionRecord extends SessionRow {
  agents: Participant[];
}

/** Fills the derived columns (durations, expired, the joined agent lists) from the others. */
export function withDerived(record: SessionRecord): SessionRecord {
  const seconds = (from: string | null, to: string | null): number | null =>
    from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) / 1000 : null;
  const list = (values: string[]): string | null =>
    values.length ? values.map((v) => v.replaceAll(';', ',')).join(';') : null;
  return {
    ...record,
    agent_ids: list(record.agents.map((a) => a.id)),
    agent_names: list(record.agents.map((a) => a.name ?? '')),
    waiting_seconds: seconds(record.created_at, record.first_agent_reply_at),
    handle_seconds: seconds(record.first_agent_reply_at, record.finished_at),
    total_seconds: seconds(record.created_at, record.finished_at),
    expired: record.closed_by === 'expired',
  };
}

/** The exported row of a record: exactly the schema's columns, in order. */
export function toRow(record: SessionRecord): SessionRow {
  const row: Record<string, unknown> = {};
  for (const name of SESSION_COLUMN_NAMES) row[name] = record[name];
  return row as unknown as SessionRow;
}
