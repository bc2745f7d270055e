import {
  SESSION_COLUMNS,
  SESSION_COLUMN_NAMES,
  type ColumnType,
  type SessionRecord,
  type TalkEntry,
} from './schema';

/** Every stored column of `report_sessions`, in table order: the exported ones, then the internal ones. */
export const STORED_COLUMNS: readonly string[] = [...SESSION_COLUMN_NAMES, 'agents'];

const TYPES = new Map<string, ColumnType | 'json'>([
  ...SESSION_COLUMNS.map((c) => [c.name, c.type] as [string, ColumnType]),
  ['agents', 'json'],
]);

export function columnType(name: string): ColumnType | 'json' {
  const type = TYPES.get(name);
  if (!type) throw new Error(`unknown report column ${name}`);
  return type;
}

/** The columns of `report_talk_log`, in the order of `talkEntryValues`. */
export const TALK_COLUMNS = [
  'session_id',
  'entry_id',
  'at',
  'origin',
  'type',
  'detail',
  'attachments',
  'text_enc',
  'media_enc',
] as const satisfies readonly (keyof TalkEntry)[];

/** A talk log entry's values in TALK_COLUMNS order (the INSERT's parameters, in both stores). */
export function talkEntryValues(entry: TalkEntry): unknown[] {
  return TALK_COLUMNS.map((name) => entry[name]);
}

/** Values of a record in STORED_COLUMNS order, converted by `convert` per column type. */
export function recordValues(
  record: SessionRecord,
  convert: (value: unknown, type: ColumnType | 'json') => unknown,
): unknown[] {
  const source = record as unknown as Record<string, unknown>;
  return STORED_COLUMNS.map((name) => convert(source[name], columnType(name)));
}

/** A record from a database row, converted by `convert` per column type. */
export function recordFromRow(
  row: Record<string, unknown>,
  convert: (value: unknown, type: ColumnType | 'json') => unknown,
): SessionRecord {
  const out: Record<string, unknown> = {};
  for (const name of STORED_COLUMNS) out[name] = convert(row[name], columnType(name));
  return out as unknown as SessionRecord;
}
