/**
 * The helpdesk adapter contract: what one vendor folder under `src/adapters/<vendor>/` implements.
 * It is the one file under `adapters/` the core may import, and the one file outside `adapters/` a vendor folder
 * imports: it re-exports the model, the error classes, the logger type and the helpers adapters need (lint enforces
 * both directions: eslint.config.mjs).
 *
 * What an adapter does NOT do, because the core does it for every vendor: dedupe events, keep per-customer
 * order, retry, enforce webhook timestamp windows, reject unverified webhooks, keep state.
 * An adapter maps vendor responses onto RetryableError / PermanentError (`src/core/errors.ts`).
 */
import type { z } from 'zod';
import type { Logger } from '../core/logger';
import type { VendorSetup } from './shared/setup';

export type * from '../core/model';
export { type Logger, silentLogger } from '../core/logger';
export {
  BridgeError,
  errorCode,
  errorMessage,
  PermanentError,
  RetryableError,
  SecurityError,
  UnavailableError,
} from '../core/errors';
export { retryAfterMs } from '../core/retry-after';
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
} from '../core/model';

/** An incoming webhook request as the HTTP edge received it; `body` is the raw bytes that were signed. */
export interface RawRequest {
  method: string;
  path: string;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
  receivedAt: Date;
}

/** What an HMAC kind's `verify` says: the signature holds, and when the vendor signed (the core checks the window). */
export type Verification = { ok: true; signedAt: Date } | { ok: false; reason: string };

/**
 * How a vendor authenticates its webhooks. The core (`src/http/webhook-auth.ts`) enforces the declared kind and its
 * replay rule before `parse` ever sees a body; there is no "none".
 *
 * - `hmac-signed-time`: an HMAC over the body and a time the vendor sends beside it (Zendesk's
 *   `X-Zendesk-Webhook-Signature-Timestamp`, ServiceNow's `X-Bridge-Timestamp`). `verify` checks both and returns
 *   the signed time; the core refuses it outside the replay window.
 * - `hmac-body-time`: an HMAC over the body alone, whose time is a field INSIDE the signed body (Intercom's
 *   `first_sent_at`). `verify` returns that field as `signedAt` and refuses a body without one; the core applies the
 *   window. A time the signature does not cover is never a `signedAt`.
 * - `header-secret`: a shared secret the vendor sends as-is in a header. The core compares it in constant time; a
 *   tampered body with the genuine header cannot be told apart, and there is no signed time, so the replay rule is
 *   the core's dedupe by event id (and, where the vendor has a read API, the adapter confirming the event, see the
 *   guide).
 * - `route-token`: a secret token in the webhook URL the owner registers at the vendor,
 *   `/webhooks/<name>/<token>`. Compared by the core in constant time, never logged (redacted from request URLs);
 *   the same replay rule as `header-secret`.
 */
export type WebhookAuth =
  | { kind: 'hmac-signed-time' }
  | { kind: 'hmac-body-time' }
  | { kind: 'header-secret'; /** lower case */ header: string; secret: string }
  | { kind: 'route-token'; token: string };

export type WebhookAuthKind = WebhookAuth['kind'];

export interface WebhookHandler {
  /** How the vendor authenticates its webhooks; the core enforces it. */
  readonly auth: WebhookAuth;
  /**
   * The HMAC kinds (required for them, unused otherwise): checks the signature over the raw body and returns the
   * signed time. Never throws; never logs the body.
   */
  verify?(request: RawRequest): Verification;
  /**
   * Turns a verified body into events, oldest first. Events that do not concern the customer
   * (internal notes, the customer's own echo, other tickets) are left out here.
   * Throws PermanentError on a body that does not have the vendor's shape (the vendor gets 400).
   *
   * May be async to confirm the event through the vendor's API before the core accepts it (fetch the message by
   * id and take its content from there: docs/adding-an-adapter.md, "Vendors that do not sign"); a RetryableError
   * from that call answers 503, so the vendor delivers again.
   */
  parse(request: RawRequest): HelpdeskEvent[] | Promise<HelpdeskEvent[]>;
  /** Replay window in seconds for the HMAC kinds; the core's default (300) when absent. */
  readonly maxSkewSeconds?: number;
}

/** How a keyed write is being made. */
export interface WriteOptions {
  /** An earlier call with the same idempotency key may have been applied by the vendor. */
  again?: boolean;
}

export interface HelpdeskAdapter {
  /** Lower-case vendor name: routes (`/webhooks/<name>`), logs, state keys. */
  readonly name: string;
  /**
   * The vendor's API limit. `callsPerMethod`: the API calls a method usually makes, where that is more than one
   * (Zendesk's openTicket creates the requester, then the ticket): the shared rate limiter takes that many slots,
   * so the limit counts requests, not methods (without it, 3× load met 429s: npm run bench, scenario 4).
   */
  readonly limits: { requestsPerMinute: number; callsPerMethod?: Partial<Record<string, number>> };
  /** Opens a ticket whose first comment is `req.first`. The same idempotency key must never open two tickets. */
  openTicket(req: OpenTicketRequest, idempotencyKey: string): Promise<TicketRef>;
  /**
   * Appends a customer message to the ticket, authored by the customer (never as an agent). The same key must
   * never add the comment twice: `options.again` says an earlier call with this key may have reached the vendor
   * (a timeout, a lost answer, a crash around the call); a vendor without idempotency keys is then asked first
   * whether the ticket has it already (Zendesk: the key in the update's audit metadata).
   */
  appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    options?: WriteOptions,
  ): Promise<void>;
  /**
   * Writes a note agents see and the customer never does (Zendesk private comment, Intercom note, ServiceNow
   * work note): a message that could not be delivered, content the bridge could not render.
   */
  addInternalNote?(ticket: TicketRef, text: string): Promise<void>;
  /**
   * Present when the vendor can take the customer's files. Uploads one file and returns the vendor's reference
   * for it (a Zendesk upload token, a ServiceNow attachment sys_id, an Intercom part id); the core then passes it
   * as `attachment.uploadRef` to `openTicket` / `appendCustomerMessage`, which attach the file (Zendesk:
   * `comment.uploads`) or, when the upload already put it on the ticket, mention it. The core downloads the file,
   * calls this once per file and keeps the reference with the message (a string in the state store, never the
   * bytes), so a retried comment reuses it. Throws PermanentError when the vendor refuses the file.
   *
   * `ticket` is given exactly when `uploadNeedsTicket` is true.
   */
  uploadAttachment?(file: MediaFile, ticket?: TicketRef): Promise<string>;
  /**
   * True when a file can only be added to an existing ticket (ServiceNow's Attachment API needs the record's
   * sys_id; Intercom takes files only on a reply, not on `POST /conversations`). The core then opens the ticket
   * with the first message's text, and uploads that message's files right after with the new ticket; a file that
   * fails then reaches the ticket as its link with a note, in a follow-up customer message. Later messages upload
   * before their comment, as for every vendor.
   */
  readonly uploadNeedsTicket?: boolean;
  /**
   * Present when agents' attachment links may need the adapter's credentials to be read. Downloads one file of
   * an `agent.message` event, refusing more than `maxBytes` (PermanentError `MEDIA_TOO_LARGE`), so the core can
   * re-host it for the customer (`GET /media/<token>` under `BRIDGE_PUBLIC_URL`). Resolves undefined for a link
   * that is not on the vendor's own host: credentials go nowhere else, and the core then downloads the link as a
   * public one, with its SSRF-safe fetcher (as it does for every link when this method is absent).
   */
  downloadAttachment?(attachment: Attachment, maxBytes: number): Promise<MediaFile | undefined>;
  /** Closes the ticket from the bridge's side (the customer ended it, or it expired). */
  closeTicket(ticket: TicketRef, closedBy: ClosedBy): Promise<void>;
  /**
   * The reopen policy (`BRIDGE_REOPEN_WINDOW_MINUTES`): present when the vendor lets a closed ticket be opened
   * again. Reopens `ticket` (the customer's previous one, closed within the window: Zendesk solved → open, Intercom
   * conversation opened, ServiceNow resolved → in progress) and appends `message` to it as the customer, in one
   * step when the vendor allows. Throws PermanentError when this ticket can no longer be reopened (Zendesk
   * `closed`, a ServiceNow record past resolved, a deleted conversation): the core then opens a new ticket with
   * the same message. Without this method a returning customer always gets a new ticket. Files in `message` were
   * uploaded for `ticket` already (`uploadRef`), as for `appendCustomerMessage`.
   */
  reopenTicket?(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    options?: WriteOptions,
  ): Promise<void>;
  /**
   * Public agent messages on the ticket, oldest first. The core calls it just before a hand-back so a reply
   * whose webhook lost the race against the close is still delivered (deduped by event id).
   */
  recentAgentMessages?(ticket: TicketRef): Promise<AgentMessageEvent[]>;
  /**
   * True when the vendor has a native field for the conversation before the handoff (Omnize's `external_history`):
   * with `BRIDGE_TRANSCRIPT` on, the core then passes the bot conversation as `OpenTicketRequest.history`
   * (structured entries, oldest first) instead of writing the transcript as a note or a first comment.
   */
  readonly takesHistory?: boolean;
  /**
   * Present when the vendor can keep the customer's satisfaction rating (`BRIDGE_SURVEY=bridge`): `rating` is 1–5,
   * written after the close (Zendesk: an internal note on the solved ticket; see each adapter's README for what its
   * API allows). The same key must not write it twice: with `options.again`, an earlier try may have landed.
   * Throws PermanentError when the vendor refuses it; the customer is handed back all the same.
   */
  rateTicket?(
    ticket: TicketRef,
    rating: number,
    idempotencyKey: string,
    options?: WriteOptions,
  ): Promise<void>;
  /**
   * Present when the vendor's assignment and transfer events may carry ids without names (Zendesk's event
   * subscriptions, an Intercom assignment made by another teammate): the agent's display name or the team's name,
   * looked up by id. Resolves undefined when the vendor does not know it.
   */
  nameOf?(what: 'agent' | 'team', id: string): Promise<string | undefined>;
  /**
   * Present when the vendor's API lets a customer's typing show to the agent (issue 20.2; none of Zendesk, Intercom
   * and ServiceNow has such an API; Omnize (`typing` / `cleared`) and Chatwoot (`toggle_typing`) implement it). Called when the customer starts
   * (`composing`) or stops (`paused`) typing on an open ticket, at most about once per few seconds per customer;
   * never queued behind messages and never retried: a call that would wait for the rate limit is dropped, a failure
   * is logged at debug level. A late typing signal is worthless.
   */
  customerTyping?(ticket: TicketRef, state: CustomerTypingState): Promise<void>;
  /**
   * Present when the vendor's API has a "seen by the customer" marker for agents' messages (issue 20.2; none of
   * Zendesk, Intercom (its conversation `read` flag is the teammates' inbox state, not the customer's), ServiceNow
   * and Omnize has one; Chatwoot implements it with the contact's `update_last_seen`). Called when the customer's app reports (`consumed`) that it showed the agent's message
   * `upTo.messageId` (the id of the `agent.message` event's message) and so everything before it. Best effort as
   * `customerTyping`: dropped rather than delayed, never retried.
   */
  markReadByCustomer?(ticket: TicketRef, upTo: { messageId: string; at: string }): Promise<void>;
  /** Present when the vendor pushes events to us. */
  readonly webhook?: WebhookHandler;
  /** Present when the vendor must be polled for events. */
  poll?(cursor: string | undefined): Promise<{ events: HelpdeskEvent[]; cursor: string }>;
}

/**
 * Serves a file from the bridge (`GET /media/<token>` under `BRIDGE_PUBLIC_URL`, signed, with the media TTL) and
 * returns its public URL; publishing the same id again replaces it. For vendors that take files or documents only as
 * URLs they fetch (Omnize's message `url` and `external_history`).
 */
export type PublishFile = (id: string, file: MediaFile) => Promise<string>;

export interface AdapterContext {
  logger: Logger;
  /** Present when the bridge has a public URL (`BRIDGE_PUBLIC_URL`). */
  publish?: PublishFile;
}

/** What a vendor folder exports; `src/adapters/registry.ts` lists one per vendor. */
export interface AdapterModule<Schema extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  /** The vendor's environment variables (`<VENDOR>_*`), validated with the rest of the configuration. */
  readonly configSchema: Schema;
  create(config: z.infer<Schema>, context: AdapterContext): HelpdeskAdapter;
  /**
   * `npm run bridge -- setup <name>` and the vendor's line in `check` (`src/adapters/shared/setup.ts`); without it
   * the vendor has neither.
   */
  readonly setup?: VendorSetup<z.infer<Schema>>;
}
