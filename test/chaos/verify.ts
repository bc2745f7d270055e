/**
 * The end-of-run check, on what the helpdesk and BLiP recorded (no knowledge of the bridge's insides): per customer,
 * every message reached the ticket exactly once and in order, on one ticket; every agent reply reached the customer
 * exactly once and in order; the closed ticket produced one closing text and one Redirect, after the last reply.
 */

/** One customer of the run and what they and their agent said. */
export interface ScriptedCustomer {
  /** `#tunnel.originator` (the helpdesk's requester external id). */
  originator: string;
  /** The tunnel address the bridge answers to. */
  address: string;
  messages: string[];
  replies: string[];
}

export interface ObservedTicket {
  id: string;
  customerExternalId?: string;
  /** Comment bodies by the requester, oldest first (a coalesced comment holds several messages, "\n\n"-joined). */
  customerMessages: string[];
  closed: boolean;
}

/** A LIME message the bot sent, in the order the LIME server received them. */
export interface ObservedSend {
  id?: string;
  to: string;
  type: string;
  content: unknown;
}

export interface ObservedDeadLetter {
  id: string;
  code: string;
  reason: string;
  kind: string;
}

export interface Observed {
  tickets: ObservedTicket[];
  sent: ObservedSend[];
  /** The bridge's closing text (BRIDGE_CLOSING_MESSAGE), sent right before the Redirect. */
  closingText?: string;
  /**
   * Texts the bridge sends on its own (waiting, agent assigned...) start with this: they are not agent replies, and
   * each may reach a customer at most once.
   */
  automaticPrefix?: string;
  deadLetters: ObservedDeadLetter[];
  /** Work items still queued when the run ended. */
  queued: number;
}

export interface DirectionFigures {
  expected: number;
  /** Expected items that arrived (at least once). */
  delivered: number;
  lost: number;
  /** Extra copies of items that arrived. */
  duplicated: number;
  /** Items that arrived after an item the customer (or agent) sent later. */
  reordered: number;
  /** Items that were not expected at all for this customer (another customer's, or garbage). */
  foreign: number;
}

export interface Verdict {
  customers: number;
  toHelpdesk: DirectionFigures & {
    /** Comments the bridge made for customers. */
    comments: number;
    /** Comments holding more than one message (coalesced behind the rate limit), and the messages in them. */
    coalescedComments: number;
    coalescedMessages: number;
  };
  toCustomer: DirectionFigures & {
    /** LIME messages sent again under an id already sent (a retry with the same idempotency key). */
    sameIdResends: number;
  };
  tickets: {
    opened: number;
    customersWithoutTicket: number;
    customersWithExtraTickets: number;
    notClosed: number;
  };
  redirects: {
    expected: number;
    sent: number;
    missing: number;
    duplicated: number;
    sameIdResends: number;
    /** Redirects that pointed at another ticket than the customer's. */
    wrongTicket: number;
    /** Agent replies or closing texts that reached the customer after their Redirect. */
    afterRedirect: number;
  };
  /** The closing text (one per close), and automatic texts sent more than once. */
  closingTexts: { missing: number; duplicated: number };
  deadLetters: ObservedDeadLetter[];
  queued: number;
  /** One line per problem, customer by customer (the first ones; `problemCount` has them all). */
  problems: string[];
  problemCount: number;
  ok: boolean;
}

const REDIRECT_TYPE = 'application/vnd.lime.redirect+json';

/** Lost, duplicated, reordered and foreign items of `observed` against `expected` (both in order). */
export function compareSequence(expected: string[], observed: string[]): DirectionFigures {
  const position = new Map(expected.map((item, i) => [item, i]));
  const seen = new Map<string, number>();
  let foreign = 0;
  let reordered = 0;
  let highest = -1;
  for (const item of observed) {
    const at = position.get(item);
    if (at === undefined) {
      foreign++;
      continue;
    }
    const copies = (seen.get(item) ?? 0) + 1;
    seen.set(item, copies);
    if (copies > 1) continue;
    if (at < highest) reordered++;
    highest = Math.max(highest, at);
  }
  const delivered = seen.size;
  const duplicated = [...seen.values()].reduce((n, c) => n + c - 1, 0);
  return {
    expected: expected.length,
    delivered,
    lost: expected.length - delivered,
    duplicated,
    reordered,
    foreign,
  };
}

function add(total: DirectionFigures, one: DirectionFigures): void {
  total.expected += one.expected;
  total.delivered += one.delivered;
  total.lost += one.lost;
  total.duplicated += one.duplicated;
  total.reordered += one.reordered;
  total.foreign += one.foreign;
}

const empty = (): DirectionFigures => ({
  expected: 0,
  delivered: 0,
  lost: 0,
  duplicated: 0,
  reordered: 0,
  foreign: 0,
});

function describe(what: string, f: DirectionFigures): string[] {
  const parts = [
    f.lost && `${f.lost} lost`,
    f.duplicated && `${f.duplicated} duplicated`,
    f.reordered && `${f.reordered} out of order`,
    f.foreign && `${f.foreign} unexpected`,
  ].filter(Boolean);
  return parts.length ? [`${what}: ${parts.join(', ')}`] : [];
}

export function verify(
  customers: ScriptedCustomer[],
  observed: Observed,
  options: { strictIds?: boolean; maxProblems?: number } = {},
): Verdict {
  const maxProblems = options.maxProblems ?? 100_000;
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (line: string): void => {
    problemCount++;
    if (problems.length < maxProblems) problems.push(line);
  };

  const toHelpdesk = { ...empty(), comments: 0, coalescedComments: 0, coalescedMessages: 0 };
  const toCustomer = { ...empty(), sameIdResends: 0 };
  const tickets = {
    opened: observed.tickets.length,
    customersWithoutTicket: 0,
    customersWithExtraTickets: 0,
    notClosed: 0,
  };
  const redirects = {
    expected: customers.length,
    sent: 0,
    missing: 0,
    duplicated: 0,
    sameIdResends: 0,
    wrongTicket: 0,
    afterRedirect: 0,
  };
  const closingTexts = { missing: 0, duplicated: 0 };

  const ticketsOf = new Map<string, ObservedTicket[]>();
  for (const t of observed.tickets) {
    const key = t.customerExternalId ?? '';
    ticketsOf.set(key, [...(ticketsOf.get(key) ?? []), t]);
  }
  const sentTo = new Map<string, Array<ObservedSend & { seq: number }>>();
  observed.sent.forEach((s, seq) => {
    sentTo.set(s.to, [...(sentTo.get(s.to) ?? []), { ...s, seq }]);
  });

  for (const customer of customers) {
    const who = customer.originator;
    // ---- customer -> helpdesk
    const mine = ticketsOf.get(who) ?? [];
    if (mine.length === 0) {
      tickets.customersWithoutTicket++;
      problem(`${who}: no ticket`);
    }
    if (mine.length > 1) {
      tickets.customersWithExtraTickets++;
      problem(`${who}: ${mine.length} tickets (${mine.map((t) => t.id).join(', ')}) for one handoff`);
    }
    for (const t of mine) {
      if (!t.closed) {
        tickets.notClosed++;
        problem(`${who}: ticket ${t.id} not closed`);
      }
    }
    const pieces: string[] = [];
    for (const t of mine) {
      for (const comment of t.customerMessages) {
        toHelpdesk.comments++;
        const parts = comment.split('\n\n');
        if (parts.length > 1) {
          toHelpdesk.coalescedComments++;
          toHelpdesk.coalescedMessages += parts.length;
        }
        pieces.push(...parts);
      }
    }
    const inbound = compareSequence(customer.messages, pieces);
    add(toHelpdesk, inbound);
    for (const line of describe(`${who}: messages to the ticket`, inbound))
      problem(`${line} [${pieces.join(' | ')}]`);

    // ---- helpdesk -> customer
    const out = sentTo.get(customer.address) ?? [];
    // A message sent again under an id already sent is a retry with the same idempotency key: BLiP gets it twice,
    // the customer once (unless `strictIds`, which counts it as a duplicate).
    const firstOfId = new Map<string, (typeof out)[number]>();
    let resentReplies = 0;
    let resentRedirects = 0;
    for (const s of out) {
      const id = s.id ?? `(no id ${s.seq})`;
      if (!firstOfId.has(id)) firstOfId.set(id, s);
      else if (s.type === REDIRECT_TYPE) resentRedirects++;
      else resentReplies++;
    }
    const distinct = options.strictIds ? out : [...firstOfId.values()];
    const texts = distinct.filter((s) => s.type === 'text/plain');
    const isAutomatic = (s: ObservedSend): boolean =>
      s.content !== observed.closingText &&
      observed.automaticPrefix !== undefined &&
      String(s.content).startsWith(observed.automaticPrefix);
    const replies = texts.filter((s) => s.content !== observed.closingText && !isAutomatic(s));
    const closings = texts.filter((s) => s.content === observed.closingText);
    const automatic = texts.filter(isAutomatic).map((s) => String(s.content));
    const repeatedAutomatic = automatic.length - new Set(automatic).size;
    if (repeatedAutomatic > 0) {
      closingTexts.duplicated += repeatedAutomatic;
      problem(`${who}: an automatic text sent ${repeatedAutomatic} extra time(s) [${automatic.join(' | ')}]`);
    }
    const redirectSends = distinct.filter((s) => s.type === REDIRECT_TYPE);
    const others = distinct.filter((s) => s.type !== 'text/plain' && s.type !== REDIRECT_TYPE);
    const replyTexts = [...replies.map((s) => String(s.content)), ...others.map((s) => `(${s.type})`)];
    const outbound = compareSequence(customer.replies, replyTexts);
    add(toCustomer, outbound);
    toCustomer.sameIdResends += resentReplies;
    for (const line of describe(`${who}: agent replies to the customer`, outbound)) {
      problem(`${line} [${replyTexts.join(' | ')}]`);
    }

    // ---- close and hand-back
    redirects.sameIdResends += resentRedirects;
    redirects.sent += Math.min(1, redirectSends.length);
    if (redirectSends.length === 0) {
      redirects.missing++;
      problem(`${who}: no Redirect`);
    } else if (redirectSends.length > 1) {
      redirects.duplicated += redirectSends.length - 1;
      problem(`${who}: ${redirectSends.length} Redirects`);
    }
    if (observed.closingText !== undefined) {
      if (closings.length === 0) {
        closingTexts.missing++;
        problem(`${who}: no closing text`);
      } else if (closings.length > 1) {
        closingTexts.duplicated += closings.length - 1;
        problem(`${who}: ${closings.length} closing texts`);
      }
    }
    const redirect = redirectSends[0];
    if (redirect) {
      const late = [...replies, ...closings].filter((s) => s.seq > redirect.seq).length;
      if (late > 0) {
        redirects.afterRedirect += late;
        problem(`${who}: ${late} message(s) after the Redirect`);
      }
      const ticket = ticketOfRedirect(redirect.content);
      if (mine.length === 1 && ticket !== mine[0]!.id) {
        redirects.wrongTicket++;
        problem(`${who}: the Redirect names ticket ${ticket ?? '(none)'}, not ${mine[0]!.id}`);
      }
    }
  }

  for (const letter of observed.deadLetters) {
    problem(`dead letter ${letter.id}: ${letter.kind} ${letter.code} ${letter.reason}`);
  }
  if (observed.queued > 0) problem(`${observed.queued} work item(s) still queued at the end`);

  const ok =
    toHelpdesk.lost + toHelpdesk.duplicated + toHelpdesk.reordered + toHelpdesk.foreign === 0 &&
    toCustomer.lost + toCustomer.duplicated + toCustomer.reordered + toCustomer.foreign === 0 &&
    tickets.customersWithoutTicket + tickets.customersWithExtraTickets + tickets.notClosed === 0 &&
    redirects.missing + redirects.duplicated + redirects.wrongTicket + redirects.afterRedirect === 0 &&
    closingTexts.missing + closingTexts.duplicated === 0 &&
    observed.deadLetters.length === 0 &&
    observed.queued === 0;
  return {
    customers: customers.length,
    toHelpdesk,
    toCustomer,
    tickets,
    redirects,
    closingTexts,
    deadLetters: observed.deadLetters,
    queued: observed.queued,
    problems,
    problemCount,
    ok,
  };
}

/** The ticket a Redirect's `application/vnd.iris.ticket+json` context names (its `sequentialId`). */
function ticketOfRedirect(content: unknown): string | undefined {
  const context = (content as { context?: { value?: { sequentialId?: unknown } } } | undefined)?.context;
  const id = context?.value?.sequentialId;
  return id === undefined ? undefined : String(id);
}
