/**
 * Why a customer message reached its ticket twice. Every duplicate comment means the vendor applied the same
 * append twice; this finds, for each extra copy, the earlier call that had already applied it and why the bridge
 * did it again:
 * - `answered too late`: the vendor did it but answered after the bridge's timeout (an injected slow call);
 * - `killed before answer`: the process died while waiting for the answer;
 * - `answer lost`: the bridge gave up waiting for another reason (a timeout on a loaded machine);
 * - `killed after answer`: the answer reached the process, which was killed before recording the work as done;
 * - `Redis down after answer`: the answer arrived, but Redis was down when the bridge went to record it;
 * - `unexplained`: none of these — a bug of another kind.
 * The first three are the same gap: appending a comment is not idempotent at this vendor (no idempotency key on
 * ticket updates), so a retry after an ambiguous outcome posts again. See docs/reliability.md.
 */
import type { RecordedRequest } from '../../sandbox/emulator-kit';
import type { TappedCall } from './proxy';

export type DuplicateCause =
  | 'answered too late'
  | 'killed before answer'
  | 'answer lost'
  | 'killed after answer'
  | 'Redis down after answer'
  | 'unexplained';

export const duplicateCauses: DuplicateCause[] = [
  'answered too late',
  'killed before answer',
  'answer lost',
  'killed after answer',
  'Redis down after answer',
  'unexplained',
];

export interface Duplicate {
  text: string;
  ticket: string;
  cause: DuplicateCause;
  /** The earlier call that had applied it. */
  call?: string;
  /**
   * What that earlier call was: an append, or the ticket's creation (the first message then came back as a
   * comment: the state said "open" but the message was not yet marked done).
   */
  via: 'open' | 'append';
}

export interface Incidents {
  /** When each bridge process was killed (ms since epoch), by bridge number. */
  kills: Map<number, number[]>;
  /** Redis down intervals [from, to]. */
  redisDown: Array<[number, number]>;
  /** The bridge's timeout for a vendor call (ZENDESK_TIMEOUT_MS). */
  vendorTimeoutMs: number;
}

/** Appends (and opens) the vendor applied, oldest first: a 2xx answer, or a call whose answer was held back. */
function applied(requests: RecordedRequest[]): RecordedRequest[] {
  return requests.filter(
    (r) =>
      (r.method === 'PUT' || (r.method === 'POST' && /\/api\/v2\/tickets(\?|$)/.test(r.path))) &&
      ((r.status !== undefined && r.status >= 200 && r.status < 300) || r.fault === 'late'),
  );
}

function commentOf(request: RecordedRequest): { ticket: string; body: string } | undefined {
  const body = (request.body as { ticket?: { comment?: { body?: unknown }; id?: unknown } } | undefined)
    ?.ticket;
  const text = body?.comment?.body;
  if (typeof text !== 'string') return undefined;
  const put = /\/api\/v2\/tickets\/(\d+)/.exec(request.path);
  return { ticket: put ? put[1]! : '(new)', body: text };
}

export function attributeDuplicates(
  requests: RecordedRequest[],
  calls: Map<string, TappedCall>,
  incidents: Incidents,
  duplicatedTexts: Set<string>,
): Duplicate[] {
  const byText = new Map<string, RecordedRequest[]>();
  for (const request of applied(requests)) {
    const comment = commentOf(request);
    if (!comment) continue;
    for (const piece of comment.body.split('\n\n')) {
      if (!duplicatedTexts.has(piece)) continue;
      byText.set(piece, [...(byText.get(piece) ?? []), request]);
    }
  }
  const duplicates: Duplicate[] = [];
  const tapped = (request: RecordedRequest): { id: string; call?: TappedCall } => {
    const id = String(request.headers['x-chaos-call'] ?? '');
    return { id, call: calls.get(id) };
  };
  for (const [text, sameText] of byText) {
    // Every copy but the last was applied by a call the bridge then repeated (the next copy).
    sameText.slice(0, -1).forEach((earlier, i) => {
      const { id, call } = tapped(earlier);
      const next = tapped(sameText[i + 1]!).call?.startedAt ?? sameText[i + 1]!.at.getTime();
      duplicates.push({
        text,
        ticket: commentOf(earlier)?.ticket ?? '?',
        via: earlier.method === 'POST' ? 'open' : 'append',
        cause:
          earlier.fault === 'late'
            ? 'answered too late'
            : call
              ? causeOf(call, next, incidents)
              : 'unexplained',
        call: id || undefined,
      });
    });
  }
  return duplicates;
}

/**
 * Why the bridge repeated `call`, which the vendor had applied, at `next` (when the repeat reached the tap). When
 * the bridge got the answer, only a crash of its process or of Redis before the work was recorded as done explains
 * a repeat: one must fall between the answer and the repeat. (A tighter window would depend on the machine's load.)
 */
function causeOf(call: TappedCall, next: number, incidents: Incidents): DuplicateCause {
  const kills = incidents.kills.get(call.bridge) ?? [];
  // The bridge's timer started before the tap saw the call, so an answer this late found it gone (the tap may still
  // see the answer written: the bridge's socket was closing).
  const tooLate = incidents.vendorTimeoutMs - 100;
  if (!call.delivered || call.answeredAt === undefined || call.answeredAt - call.startedAt >= tooLate) {
    const end = call.answeredAt ?? call.startedAt + incidents.vendorTimeoutMs;
    return kills.some((t) => t >= call.startedAt && t <= end) ? 'killed before answer' : 'answer lost';
  }
  const answered = call.answeredAt;
  const between = (t: number): boolean => t >= answered - 50 && t <= next;
  if (kills.some(between)) return 'killed after answer';
  if (incidents.redisDown.some(([from, to]) => between(from) || (answered >= from && answered <= to))) {
    return 'Redis down after answer';
  }
  return 'unexplained';
}
