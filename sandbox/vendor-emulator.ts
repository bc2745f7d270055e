/**
 * What every vendor emulator offers, so one adapter contract suite (test/adapters/contract.test.ts) and the demo
 * harness drive Zendesk, Intercom, ServiceNow and any later vendor the same way.
 *
 * An emulator is a real HTTP server speaking the vendor's API (validated against the vendor's OpenAPI file where one
 * exists), plus an agent who acts in the helpdesk and so fires the vendor's real, signed webhooks at the bridge.
 */
import type { WebhookAuthKind } from '../src/adapters/adapter';

/** One ticket / conversation / incident, as the contract suite needs to see it. */
export interface TicketView {
  /** The id the bridge uses in its TicketRef (Zendesk ticket id, Intercom conversation id, ServiceNow sys_id). */
  id: string;
  /** Bodies of the customer's messages on the ticket, oldest first (the first one included). */
  customerMessages: string[];
  /** Who the helpdesk thinks the customer is (the requester/contact external id). */
  customerExternalId?: string;
  /** Files the bridge attached for the customer (uploaded, not linked), oldest first, byte for byte. */
  customerFiles: FileView[];
  /** True once the helpdesk considers it closed (solved, closed, resolved...). */
  closed: boolean;
  /** Internal notes written by the bridge (agents see them, the customer never does), oldest first. */
  bridgeNotes: string[];
}

/** A file as the helpdesk stored it: what the agent opens. */
export interface FileView {
  name: string;
  mimeType: string;
  size: number;
  data: Buffer;
}

/** A file an agent sends from the helpdesk. */
export interface AgentFile {
  name: string;
  mimeType: string;
  data: Buffer;
}

export interface WebhookDelivery {
  body: string;
  headers: Record<string, string>;
  /** HTTP status the bridge answered (0 when unreachable). */
  status: number;
}

export interface RecordedApiCall {
  method: string;
  path: string;
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface VendorEmulator {
  readonly vendor: string;
  readonly url: string;
  /** True when requests are validated against the vendor's OpenAPI file. */
  readonly validating: boolean;
  /** The environment that points the bridge at this emulator (BRIDGE_VENDOR and the `<VENDOR>_*` keys). */
  bridgeEnv(): Record<string, string>;
  /** Where the emulator sends its webhooks (the bridge's `/webhooks/<vendor>`; a `route-token` emulator appends its token). */
  setWebhookTarget(url: string): void;

  tickets(): TicketView[];
  /** API calls the adapter made, oldest first. */
  apiCalls(): RecordedApiCall[];
  /** The next `count` API calls answer `status` with `headers` (429 + Retry-After, 503...). */
  failNext(count: number, status: number, headers?: Record<string, string>): void;

  /** The agent answers publicly; resolves once the webhook was delivered (or, for a polled vendor, recorded). */
  agentReply(ticketId: string, text: string): Promise<WebhookDelivery>;
  /**
   * The agent sends a file (after `text`, when given) as the helpdesk's UI does, and the vendor tells the bridge:
   * Zendesk `comment_added` then `attachment_linked_to_comment`; Intercom one admin reply part carrying the upload;
   * ServiceNow a `sys_attachment` insert pushed by the attachment Business Rule. The file's link is the vendor's
   * own: it needs the vendor's credentials (Zendesk with private attachments, ServiceNow) or expires (Intercom).
   * Resolves with the deliveries, in order.
   */
  agentSendFile(ticketId: string, file: AgentFile, text?: string): Promise<WebhookDelivery[]>;
  /** An internal note (the vendor still tells the bridge; the bridge must not forward it). */
  agentNote(ticketId: string, text: string): Promise<WebhookDelivery>;
  /**
   * Another agent (by display name; created in the helpdesk when new) takes the ticket, and the vendor tells the
   * bridge in its own shape: Zendesk `ticket.agent_assignment_changed` (ids only), Intercom an `assignment` part
   * to an admin, ServiceNow `assigned_to` pushed by the Business Rule (with its display value).
   */
  agentAssign(ticketId: string, agentName: string): Promise<WebhookDelivery>;
  /**
   * The ticket moves to another team (by name; created when new): Zendesk `ticket.group_assignment_changed`,
   * Intercom an `assignment` part to a team, ServiceNow `assignment_group` pushed by the Business Rule.
   */
  transfer(ticketId: string, teamName: string): Promise<WebhookDelivery>;
  /** The agent closes/solves/resolves the ticket. */
  closeTicket(ticketId: string): Promise<WebhookDelivery>;
  /** Where the vendor reports it (Omnize `queued`): the ticket waits in the queue at `position` (1 = next). */
  queued?(ticketId: string, position?: number): Promise<WebhookDelivery>;
  /** Where the vendor reports it (Omnize `typing` / `cleared`): the agent types (true) or stopped (false). */
  typing?(ticketId: string, typing?: boolean): Promise<WebhookDelivery>;
  /** Sends the last webhook again (same event id), freshly signed. */
  redeliverLast(): Promise<WebhookDelivery>;

  /** Headers the vendor would send for this body, signed now. */
  signedHeaders(body: string): Record<string, string>;
  /**
   * The request the vendor would have made for this event had it sent it at `at` (replay tests): where the vendor
   * signs a timestamp header, the same body with that header at `at`; where the signed time is inside the body
   * (Intercom's `first_sent_at`), the body re-dated, then signed.
   */
  signedDeliveryAt(body: string, at: Date): { body: string; headers: Record<string, string> };
  /**
   * How the vendor authenticates its webhooks: the kind the adapter declares (`webhook.auth.kind`), which the
   * contract suite's signature scenario checks the core enforces.
   */
  readonly webhookAuth: WebhookAuthKind;
  /**
   * Sends `body` as the vendor would, but with a `wrong` credential (signed with another secret, another shared
   * secret, another route token) or with `none` at all.
   */
  deliverWithCredential(body: string, credential: 'wrong' | 'none'): Promise<WebhookDelivery>;
  /**
   * Sends any body with any headers to the webhook target (for a `route-token` vendor, the route with its
   * genuine token).
   */
  deliverRaw(body: string, headers: Record<string, string>): Promise<WebhookDelivery>;
  /** A well-formed agent-reply webhook body for a ticket the bridge never opened. */
  agentReplyBodyForUnknownTicket(text: string): string;

  /** Polls the emulator until `check` returns a truthy value. */
  waitFor<T>(check: () => T | undefined | false, timeoutMs?: number, description?: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * The test side of a vendor folder: `src/adapters/<vendor>/emulator.ts` exports it as `testKit`, and
 * `sandbox/emulators.ts` finds it there for every vendor in the registry (production never imports it). The
 * harness, the demo, the contract and the fuzz suites take what they need of a vendor from here.
 */
export interface VendorTestKit<E extends VendorEmulator = VendorEmulator> {
  /** Starts the emulator with the sandbox's credentials (its `bridgeEnv()` points the bridge at it). */
  start(): Promise<E>;
  /**
   * Settings the harness gives the bridge besides `bridgeEnv()`: the vendor's rate limit lifted (functional tests
   * run unthrottled; the limits are tested on their own: unit tests, `npm run bench`). Keys of the vendor's schema.
   */
  harnessEnv: Record<string, string>;
  /** Settings the demo adds with two helpdesks: the team "financeiro" as this helpdesk knows it. */
  demoEnv?: Record<string, string>;
  /**
   * The fuzz suite's sample: a real webhook body under `test/` (`fixtures/vendors/...`), the shape of the agent reply
   * `agentReplyBodyForUnknownTicket` makes (same top-level keys), which the suite mutates.
   */
  fuzzSample: string;
  /** Fuzz: markup in one API request body that the vendor would show the agent as live markup (none by default). */
  liveMarkup?(body: unknown): string[];
  /** Fuzz: a customer's text as the agent reads it (ServiceNow neutralises `[code]` tags); the text by default. */
  asAgentReads?(text: string): string;
}

/** Shared by the emulators: poll a condition until it holds. */
export async function waitUntil<T>(
  check: () => T | undefined | false,
  timeoutMs = 10_000,
  description = 'a helpdesk state',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
