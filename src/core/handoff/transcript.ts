import type { HistoryEntry } from '../model';

/** The longest transcript the bridge puts on a ticket (characters); older lines are dropped first. */
export const TRANSCRIPT_MAX_CHARS = 30_000;

export interface TranscriptOptions {
  /** IANA zone the times are shown in (`BRIDGE_TIMEZONE`). */
  timeZone: string;
  maxChars?: number;
}

/**
 * The customer's conversation before the handoff as text an agent reads at a glance, oldest first:
 *
 * ```
 * BLiP conversation before the handoff (last 3 messages; times in America/Sao_Paulo):
 * [2025-03-18 11:02:05] Customer: Oi, meu boleto de março veio com o valor errado
 * [2025-03-18 11:02:31] Customer: Foto do boleto
 *     image/jpeg boleto.jpg: https://…
 * [2025-03-18 11:04:30] Bot: Pode me informar o CPF do titular?
 * ```
 *
 * Files are listed as their links (BLiP's media links expire after a while). Undefined when there is nothing.
 */
export function renderTranscript(entries: HistoryEntry[], options: TranscriptOptions): string | undefined {
  if (entries.length === 0) return undefined;
  const format = timeFormatter(options.timeZone);
  const lines = entries.map((entry) => {
    const who = entry.from === 'customer' ? 'Customer' : 'Bot';
    const text = entry.text.trim() === '' ? '(empty)' : entry.text.trim().replace(/\n/g, '\n    ');
    const files = (entry.attachments ?? []).map(
      (a) => `\n    ${a.mimeType}${a.name ? ` ${a.name}` : ''}: ${a.url}`,
    );
    return `[${format(entry.at)}] ${who}: ${text}${files.join('')}`;
  });
  const max = options.maxChars ?? TRANSCRIPT_MAX_CHARS;
  let kept = lines;
  let dropped = 0;
  const header = (n: number): string =>
    `BLiP conversation before the handoff (last ${n} message${n === 1 ? '' : 's'}; times in ${options.timeZone}):`;
  while (kept.length > 1 && [header(kept.length), ...kept].join('\n').length > max) {
    kept = kept.slice(1);
    dropped++;
  }
  const body = [header(kept.length), ...(dropped ? [`(${dropped} older message(s) left out)`] : []), ...kept];
  const text = body.join('\n');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Intl.DateTimeFormat is costly to build (a third of a millisecond): one per zone, built once. */
const formats = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD HH:mm:ss` in the zone; the raw value when it is not a date. */
function timeFormatter(timeZone: string): (iso: string) => string {
  let format = formats.get(timeZone);
  if (!format) {
    format = buildFormat(timeZone);
    formats.set(timeZone, format);
  }
  const zoned = format;
  return (iso) => {
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) return iso;
    const parts = Object.fromEntries(zoned.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  };
}

function buildFormat(timeZone: string): Intl.DateTimeFormat {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: 'UTC', hourCycle: 'h23' });
  }
  return format;
}

/** The first comment of a ticket that opens with the transcript (`BRIDGE_TRANSCRIPT=comment`). */
export function withTranscript(transcript: string, firstText: string): string {
  return `${transcript}\n\n---- The customer's message ----\n${firstText}`;
}
