/**
 * Why a customer message reached its ticket twice. Every duplicate comment means the vendor applied the same
 * append more than once; of the calls that applied it, the bridge needed one, and for each of the others this says
 * why the bridge did not know it had worked:
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
  /**
   * The driver's worst event-loop delay: the tap may see a call this much after the bridge sent it, so an answer
   * within this much of the timeout may have found the bridge gone.
   */
  lagMs: number;
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
  for (const [text, copies] of byText) {
    const seen = copies.map((request) => ({ request, ...tapped(request) }));
    // The bridge needed one copy: the last one whose answer it got (when it got none, the last one applied).
    // Every other copy is explained by the fate of its own call: an answer the bridge never had, or one it had
    // but lost with its process or with Redis before recording the work as done (then it repeated the call).
    let kept = -1;
    seen.forEach((copy, i) => {
      if (copy.call && copy.request.fault !== 'late' && answered(copy.call, incidents)) kept = i;
    });
    if (kept < 0) kept = seen.length - 1;
    seen.forEach((copy, i) => {
      if (i === kept) return;
      const later = seen[i + 1];
      const next = later ? (later.call?.startedAt ?? later.request.at.getTime()) : Number.POSITIVE_INFINITY;
      duplicates.push({
        text,
        ticket: commentOf(copy.request)?.ticket ?? '?',
        via: copy.request.method === 'POST' ? 'open' : 'append',
        cause:
          copy.request.fault === 'late'
            ? 'answered too late'
            : copy.call
              ? causeOf(copy.call, next, incidents)
              : 'unexplained',
        call: copy.id || undefined,
      });
    });
  }
  return duplicates;
}

/**
 * Whether the bridge got this call's answer. The bridge's timer started before the tap saw the call, so an answer
 * close to the timeout found it gone even when the tap could still write it (the bridge's socket was closing).
 */
function answered(call: TappedCall, incidents: Incidents): boolean {
  return (
    call.delivered &&
    !call.abandoned &&
    call.answeredAt !== undefined &&
    call.answeredAt - call.startedAt < incidents.vendorTimeoutMs - 100 - incidents.lagMs
  );
}

/**
 * Why the bridge did not count `call`, which the vendor had applied (`next`: when the next copy reached the tap).
 * When the bridge got the answer, only a crash of its process or of Redis before the work was recorded as done
 * explains a repeat: one must fall between the answer and the repeat (a tighter window would depend on the load).
 */
function causeOf(call: TappedCall, next: number, incidents: Incidents): DuplicateCause {
  const kills = incidents.kills.get(call.bridge) ?? [];
  if (call.abandoned && kills.some((t) => t >= call.answeredAt! - 50 && t <= call.answeredAt! + 1_000)) {
    return 'killed after answer'; // the connection closed because the process died, not because it gave up
  }
  if (!answered(call, incidents) || call.answeredAt === undefined) {
    const end = call.answeredAt ?? call.startedAt + incidents.vendorTimeoutMs;
    return kills.some((t) => t >= call.startedAt && t <= end) ? 'killed before answer' : 'answer lost';
  }
  const answeredAt = call.answeredAt;
  // The first incident after the answer (and before the repeat) is the one that kept it from being recorded.
  const within = (t: number): boolean => t >= answeredAt - 50 && t <= next;
  const kill = Math.min(...kills.filter(within));
  const redis = Math.min(
    ...incidents.redisDown.flatMap(([from, to]) =>
      answeredAt >= from && answeredAt <= to ? [answeredAt] : within(from) ? [from] : [],
    ),
  );
  if (Number.isFinite(kill) && kill <= redis) return 'killed after answer';
  if (Number.isFinite(redis)) return 'Redis down after answer';
  return 'unexplained';
}
