import type { HelpdeskAdapter, WebhookHandler } from '../adapters/adapter';
import { errorCode, PermanentError } from './errors';
import type {
  AgentMessageEvent,
  Attachment,
  ChatMessage,
  ClosedBy,
  CustomerTypingState,
  HelpdeskEvent,
  MediaFile,
  OpenTicketRequest,
  TicketRef,
} from './model';
import type { CallPriority, RateLimiter } from './rate-limiter';

/** What the gateway reports about each vendor call (metrics); the composition root wires it. */
export interface GatewayObserver {
  /** A call waited this long for the vendor's rate limit. */
  onRateLimitWait(vendor: string, ms: number): void;
  /** A call ended: `outcome` is `ok` or the error's code. */
  onCall(vendor: string, method: string, outcome: string, seconds: number): void;
}

const silent: GatewayObserver = { onRateLimitWait: () => {}, onCall: () => {} };

/** How a write is being made, as the core knows it. */
export interface WriteAttempt {
  /**
   * The unit of work carrying this write was handed out before and not finished (`QueuedWork.redelivered`): an
   * earlier try may have reached the vendor (a timeout, a lost answer, a crash around the call), so a vendor
   * without idempotency keys is asked first whether it has it already (`WriteOptions.again`).
   */
  redelivered: boolean;
}

/**
 * Every call the core makes to a helpdesk goes through here, one explicit method per adapter method: it takes the
 * call's slots of the vendor's rate limit (shared by every instance on Redis; ticket opens before comments, see
 * `CallPriority`), times it for the metrics, and decides what the adapter is told about earlier tries. It does not
 * retry: a failed call fails the unit of work, and the lane's failure policy (`src/core/work/failure-policy.ts`)
 * decides whether and when it runs again.
 */
export class VendorGateway {
  readonly name: string;

  constructor(
    private readonly adapter: HelpdeskAdapter,
    private readonly limiter: RateLimiter,
    private readonly observer: GatewayObserver = silent,
  ) {
    this.name = adapter.name;
  }

  // ---- what the vendor can do (the core adapts its flow to these) ----

  /** Files can be uploaded (`uploadAttachment`). */
  get takesFiles(): boolean {
    return typeof this.adapter.uploadAttachment === 'function';
  }

  /** Files can only be added to a ticket that exists (see `HelpdeskAdapter.uploadNeedsTicket`). */
  get uploadNeedsTicket(): boolean {
    return this.adapter.uploadNeedsTicket === true;
  }

  /** Internal notes can be written. */
  get takesNotes(): boolean {
    return typeof this.adapter.addInternalNote === 'function';
  }

  /** The vendor takes the bot conversation in a native history field (`OpenTicketRequest.history`). */
  get takesHistory(): boolean {
    return this.adapter.takesHistory === true;
  }

  /** A closed ticket can be reopened (reopen policy). */
  get reopens(): boolean {
    return typeof this.adapter.reopenTicket === 'function';
  }

  /** The customer's typing can be shown to the agent (`customerTyping`). */
  get takesTyping(): boolean {
    return typeof this.adapter.customerTyping === 'function';
  }

  /** The vendor has a "seen by the customer" marker for agents' messages (`markReadByCustomer`). */
  get takesReadMarks(): boolean {
    return typeof this.adapter.markReadByCustomer === 'function';
  }

  get webhook(): WebhookHandler | undefined {
    return this.adapter.webhook;
  }

  get polls(): boolean {
    return typeof this.adapter.poll === 'function';
  }

  // ---- calls ----

  openTicket(req: OpenTicketRequest, idempotencyKey: string): Promise<TicketRef> {
    return this.call('openTicket', 'high', () => this.adapter.openTicket(req, idempotencyKey));
  }

  appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    attempt: WriteAttempt = { redelivered: false },
  ): Promise<void> {
    return this.call('appendCustomerMessage', 'normal', () =>
      this.adapter.appendCustomerMessage(ticket, message, idempotencyKey, { again: attempt.redelivered }),
    );
  }

  reopenTicket(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    attempt: WriteAttempt,
  ): Promise<void> {
    const reopen = this.adapter.reopenTicket;
    if (!reopen) return Promise.reject(unsupported(this.name, 'reopenTicket'));
    return this.call('reopenTicket', 'high', () =>
      reopen.call(this.adapter, ticket, message, idempotencyKey, { again: attempt.redelivered }),
    );
  }

  addInternalNote(ticket: TicketRef, text: string): Promise<void> {
    const note = this.adapter.addInternalNote;
    if (!note) return Promise.reject(unsupported(this.name, 'addInternalNote'));
    return this.call('addInternalNote', 'normal', () => note.call(this.adapter, ticket, text));
  }

  uploadAttachment(file: MediaFile, ticket?: TicketRef): Promise<string> {
    const upload = this.adapter.uploadAttachment;
    if (!upload) return Promise.reject(unsupported(this.name, 'uploadAttachment'));
    // Files of a ticket being opened go with the open's priority only when the open itself waits for them.
    return this.call('uploadAttachment', 'normal', () =>
      ticket ? upload.call(this.adapter, file, ticket) : upload.call(this.adapter, file),
    );
  }

  /** Undefined when the adapter cannot download (or the link is not on the vendor's own host). */
  async downloadAttachment(attachment: Attachment, maxBytes: number): Promise<MediaFile | undefined> {
    const download = this.adapter.downloadAttachment;
    if (!download) return undefined;
    return this.call('downloadAttachment', 'normal', () => download.call(this.adapter, attachment, maxBytes));
  }

  closeTicket(ticket: TicketRef, closedBy: ClosedBy): Promise<void> {
    return this.call('closeTicket', 'normal', () => this.adapter.closeTicket(ticket, closedBy));
  }

  /** Public agent messages on the ticket; empty when the vendor cannot list them. */
  async recentAgentMessages(ticket: TicketRef): Promise<AgentMessageEvent[]> {
    const recent = this.adapter.recentAgentMessages;
    if (!recent) return [];
    return this.call('recentAgentMessages', 'normal', () => recent.call(this.adapter, ticket));
  }

  /** The vendor keeps satisfaction ratings (`HelpdeskAdapter.rateTicket`). */
  get takesRatings(): boolean {
    return typeof this.adapter.rateTicket === 'function';
  }

  rateTicket(
    ticket: TicketRef,
    rating: number,
    idempotencyKey: string,
    attempt: WriteAttempt,
  ): Promise<void> {
    const rate = this.adapter.rateTicket;
    if (!rate) return Promise.reject(unsupported(this.name, 'rateTicket'));
    return this.call('rateTicket', 'normal', () =>
      rate.call(this.adapter, ticket, rating, idempotencyKey, { again: attempt.redelivered }),
    );
  }

  /** The display name of an agent or a team the event named by id only; undefined when the vendor cannot say. */
  async nameOf(what: 'agent' | 'team', id: string): Promise<string | undefined> {
    const nameOf = this.adapter.nameOf;
    if (!nameOf) return undefined;
    return this.call('nameOf', 'normal', () => nameOf.call(this.adapter, what, id));
  }

  poll(cursor: string | undefined): Promise<{ events: HelpdeskEvent[]; cursor: string }> {
    const poll = this.adapter.poll;
    if (!poll) return Promise.reject(unsupported(this.name, 'poll'));
    return this.call('poll', 'normal', () => poll.call(this.adapter, cursor));
  }

  /**
   * The customer is typing (or stopped). Resolves false when it was dropped: a signal never waits for the rate
   * limit (it would be late, and the slots belong to messages).
   */
  customerTyping(ticket: TicketRef, state: CustomerTypingState): Promise<boolean> {
    const typing = this.adapter.customerTyping;
    if (!typing) return Promise.reject(unsupported(this.name, 'customerTyping'));
    return this.unlessWaiting('customerTyping', () => typing.call(this.adapter, ticket, state));
  }

  /** The customer's app showed the agent's messages up to `upTo`. False when dropped (as `customerTyping`). */
  markReadByCustomer(ticket: TicketRef, upTo: { messageId: string; at: string }): Promise<boolean> {
    const mark = this.adapter.markReadByCustomer;
    if (!mark) return Promise.reject(unsupported(this.name, 'markReadByCustomer'));
    return this.unlessWaiting('markReadByCustomer', () => mark.call(this.adapter, ticket, upTo));
  }

  /** How long a call of `priority` would wait for the rate limit now (coalescing decides on it). */
  rateLimitDelay(priority: CallPriority = 'normal'): Promise<number> {
    return this.limiter.delay(priority);
  }

  /** A call made only when the rate limit lets it go now (live signals); false when it would have waited. */
  private async unlessWaiting(method: string, work: () => Promise<void>): Promise<boolean> {
    if ((await this.limiter.delay('normal')) > 0) return false;
    await this.call(method, 'normal', work);
    return true;
  }

  /**
   * One vendor call: its slots of the rate limit (a method that makes several API calls takes one per call,
   * `limits.callsPerMethod`, in one step), then the call, timed.
   */
  private async call<T>(method: string, priority: CallPriority, work: () => Promise<T>): Promise<T> {
    const slots = Math.max(1, this.adapter.limits.callsPerMethod?.[method] ?? 1);
    const waited = await this.limiter.acquire(slots, priority);
    if (waited > 0) this.observer.onRateLimitWait(this.name, waited);
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const result = await work();
      this.observer.onCall(this.name, method, 'ok', seconds());
      return result;
    } catch (err) {
      this.observer.onCall(this.name, method, errorCode(err), seconds());
      throw err;
    }
  }
}

function unsupported(vendor: string, method: string): PermanentError {
  return new PermanentError(`${vendor} cannot ${method}`, 'VENDOR_UNSUPPORTED');
}

/** The enabled helpdesks by name; a conversation names the one that serves it. */
export class VendorGateways {
  private readonly byName: ReadonlyMap<string, VendorGateway>;

  constructor(gateways: VendorGateway[]) {
    if (gateways.length === 0) throw new Error('at least one helpdesk must be enabled');
    this.byName = new Map(gateways.map((g) => [g.name, g]));
  }

  /** The gateway of `vendor`; PermanentError (`VENDOR_NOT_ENABLED`) when this deployment does not enable it. */
  get(vendor: string): VendorGateway {
    const gateway = this.byName.get(vendor);
    if (!gateway) {
      throw new PermanentError(
        `helpdesk "${vendor}" is not enabled here (BRIDGE_VENDORS)`,
        'VENDOR_NOT_ENABLED',
      );
    }
    return gateway;
  }

  has(vendor: string): boolean {
    return this.byName.has(vendor);
  }

  all(): VendorGateway[] {
    return [...this.byName.values()];
  }
}
