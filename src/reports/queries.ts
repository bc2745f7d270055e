import { AggregateBuilder, type Aggregates } from './aggregates';
import { talkAad, type TextCipher } from './crypto';
import { toRow, type SessionRow } from './schema';
import { allSessions, type ReportStore, type TimeRange } from './store';

/** What the HTTP routes, the page and the CLI ask the store; the same answers everywhere. */

export async function computeAggregates(
  store: ReportStore,
  range: TimeRange,
  timezone: string,
): Promise<Aggregates> {
  const builder = new AggregateBuilder(range, timezone);
  for await (const record of allSessions(store, range)) builder.add(toRow(record));
  return builder.result();
}

export async function recentSessions(
  store: ReportStore,
  range: TimeRange,
  limit: number,
): Promise<SessionRow[]> {
  return (await store.list({ ...range, limit, order: 'desc' })).map(toRow);
}

export interface TalkLine {
  at: string;
  origin: 'customer' | 'agent' | 'automatic';
  type: string;
  detail: string | null;
  attachments: number;
  /** Decrypted text; null when none was stored, or when it cannot be decrypted (see `unreadable`). */
  text: string | null;
  media: Array<{ url: string; mimeType: string; name?: string }> | null;
  /** Why stored text could not be read (no key configured, another key). */
  unreadable?: string;
}

export async function readTalkLog(
  store: ReportStore,
  sessionId: string,
  cipher: TextCipher | undefined,
): Promise<TalkLine[]> {
  const entries = await store.talkLog(sessionId);
  return entries.map((e) => {
    const line: TalkLine = {
      at: e.at,
      origin: e.origin,
      type: e.type,
      detail: e.detail,
      attachments: e.attachments,
      text: null,
      media: null,
    };
    if (!e.text_enc && !e.media_enc) return line;
    if (!cipher) return { ...line, unreadable: 'stored encrypted; set REPORTS_TEXT_KEY to read it' };
    try {
      if (e.text_enc) line.text = cipher.decrypt(e.text_enc, talkAad(e.session_id, e.entry_id, 'text'));
      if (e.media_enc)
        line.media = JSON.parse(
          cipher.decrypt(e.media_enc, talkAad(e.session_id, e.entry_id, 'media')),
        ) as TalkLine['media'];
    } catch (err) {
      return { ...line, text: null, media: null, unreadable: (err as Error).message };
    }
    return line;
  });
}
