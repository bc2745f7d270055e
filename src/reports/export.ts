import { SESSION_COLUMNS, toRow, type ColumnType, type SessionRecord, type SessionRow } from './schema';

/**
 * CSV (RFC 4180: comma, double quotes, CRLF, a header line with the column names) and NDJSON (one JSON object per
 * line) of session rows, in the column order of the schema. In CSV an empty cell is null, booleans are true/false,
 * timestamps ISO-8601 UTC. Text cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a
 * carriage return) get a leading apostrophe, and so do text cells that already start with one, so decoding is exact:
 * drop one leading apostrophe (`fromCsvRecord` does).
 */
export type ExportFormat = 'csv' | 'ndjson';

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
};

const FORMULA_START = /^[=+\-@\t\r']/;

export function csvCell(value: unknown, type: ColumnType | 'text' = 'text'): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : '';
  else {
    text = String(value);
    if (type === 'text' && FORMULA_START.test(text)) text = `'${text}`;
  }
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: string[]): string {
  return `${values.join(',')}\r\n`;
}

export function csvHeader(): string {
  return csvLine(SESSION_COLUMNS.map((c) => c.name));
}

export function sessionCsvLine(row: SessionRow): string {
  return csvLine(SESSION_COLUMNS.map((c) => csvCell(row[c.name], c.type)));
}

export function sessionNdjsonLine(row: SessionRow): string {
  return `${JSON.stringify(row)}\n`;
}

/** The export as text chunks (about 64 KB each), for a stream: header first in CSV. */
export async function* encodeSessions(
  records: AsyncIterable<SessionRecord>,
  format: ExportFormat,
): AsyncGenerator<string> {
  let chunk = format === 'csv' ? csvHeader() : '';
  for await (const record of records) {
    const row = toRow(record);
    chunk += format === 'csv' ? sessionCsvLine(row) : sessionNdjsonLine(row);
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** A session row back from a parsed CSV record (column name → cell text): the inverse of `sessionCsvLine`. */
export function fromCsvRecord(record: Record<string, string>): SessionRow {
  const row: Record<string, unknown> = {};
  for (const column of SESSION_COLUMNS) {
    const cell = record[column.name];
    if (cell === undefined) throw new Error(`CSV has no column ${column.name}`);
    row[column.name] = fromCell(cell, column.type);
  }
  return row as unknown as SessionRow;
}

function fromCell(cell: string, type: ColumnType): unknown {
  if (cell === '') return type === 'boolean' ? false : null;
  switch (type) {
    case 'boolean':
      return cell === 'true';
    case 'integer':
    case 'seconds':
      return Number(cell);
    case 'text':
      return cell.startsWith("'") ? cell.slice(1) : cell;
    default:
      return cell;
  }
}
