import type {
  Attachment,
  ChatMessage,
  ChatState,
  ClosedHandoff,
  ContactInfo,
  Conversation,
  CustomerRef,
  Handback,
  HistoryEntry,
  MediaFile,
} from './model';

/** Everything that must survive a restart. Implemented in `src/state` over keyv (memory or Redis). */
export interface ConversationStore {
  get(customerKey: string): Promise<Conversation | undefined>;
  /** Saves the conversation and, once it has a ticket, the ticket -> customer index. */
  save(conversation: Conversation): Promise<void>;
  /**
   * A change to an open conversation (read marks, the first reply's time, the agent, a batch being sent): the
   * conversation's own record only, since the save that opened it indexed its ticket already (two Redis commands
   * fewer per write than `save`: `npm run bench`). Anything else (opening, a new ticket, the survey) is a `save`.
   */
  update(conversation: Conversation): Promise<void>;
  /** Removes the conversation and its ticket index. */
  remove(conversation: Conversation): Promise<void>;
  customerKeyForTicket(vendor: string, ticketId: string): Promise<string | undefined>;
  /** Conversations in progress (admin API), at most `limit`. */
  list(limit: number): Promise<Conversation[]>;
  /**
   * The customer of a handoff session, from the moment the conversation is first saved until its ticket is open
   * (then the ticket's index finds the customer).
   */
  customerKeyForSession(sessionId: string): Promise<string | undefined>;
  isProcessed(key: string): Promise<boolean>;
  markProcessed(key: string, ttlMs: number): Promise<void>;
  /** Where a polling adapter left off (`poll` cursors), by name. */
  getCursor(name: string): Promise<string | undefined>;
  setCursor(name: string, value: string): Promise<void>;
  /** Remembers a customer's last closed handoff for `ttlMs` (the reopen policy's window). */
  rememberClosed(closed: ClosedHandoff, ttlMs: number): Promise<void>;
  lastClosed(customerKey: string): Promise<ClosedHandoff | undefined>;
  forgetClosed(customerKey: string): Promise<void>;
  /** Throws when the backend cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How the core talks to the customer. Implemented by the BLiP edge. */
export interface CustomerChannel {
  /** Sends one message TO the customer's address. `messageId` is stable across retries. */
  send(
    customer: CustomerRef,
    message: Pick<ChatMessage, 'text' | 'attachments'>,
    messageId: string,
  ): Promise<void>;
  /**
   * Asks the customer to pick one of `question.options` (a LIME select with quick replies on channels that show
   * them; elsewhere `question.fallback`, a text that lists the options). `messageId` is stable across retries.
   */
  ask(customer: CustomerRef, question: Question, messageId: string): Promise<void>;
  /** Hands the customer back to the bot (a LIME Redirect). Returns where it was sent. */
  handBack(handback: Handback, messageId: string): Promise<{ address?: string }>;
  /**
   * Shows the customer that the agent is typing (`composing`) or stopped (`paused`): a LIME chat state
   * (`application/vnd.lime.chatstate+json`), sent without an id (no receipt is awaited; nothing to dedupe).
   */
  chatState(customer: CustomerRef, state: ChatState): Promise<void>;
  /**
   * Tells the customer's app that these messages of theirs were read (LIME `consumed`, TO the customer's address,
   * one per message id): `BRIDGE_READ_RECEIPTS=agent`, once an agent has seen them. Absent: the edge says
   * `consumed` itself when a message is recorded.
   */
  markConsumed?(customer: CustomerRef, messageIds: string[]): Promise<void>;
}

/** A question with options (the satisfaction survey's rating). */
export interface Question {
  text: string;
  /** What each option shows, and the value it sends back when the channel posts values. */
  options: Array<{ text: string; value: string }>;
  /** The whole question as one text, for a channel without quick replies (the options listed in it). */
  fallback: string;
}

/**
 * Downloads a customer's media link right away (BLiP media URLs expire), safely: http(s) only, no private
 * addresses unless allowed, a size cap, a type check and a timeout. Implemented in `src/media`.
 * Rejects with PermanentError (MEDIA_TOO_LARGE, MEDIA_FORBIDDEN_ADDRESS, MEDIA_BAD_TYPE…) or RetryableError.
 */
export interface MediaFetcher {
  /** Files larger than this are refused (for the note the agent reads). */
  readonly maxBytes: number;
  fetch(attachment: Attachment): Promise<MediaFile>;
}

/**
 * Serves agents' files to customers from the bridge itself (`GET /media/<token>` under `BRIDGE_PUBLIC_URL`), for
 * helpdesk links that need credentials or expire: the bytes live in the state backend (memory or Redis) with a
 * TTL, behind an HMAC-signed, expiring URL. Implemented in `src/media`.
 */
export interface MediaHost {
  /** Files larger than this are refused (MEDIA_TOO_LARGE). */
  readonly maxBytes: number;
  /**
   * Keeps the file under `id` (publishing the same id again replaces it, so a retry leaves no second copy) and
   * returns the public, signed URL the customer opens.
   */
  publish(id: string, file: MediaFile): Promise<string>;
}

/**
 * What BLiP knows about a customer, for the ticket: their contact (`get /contacts/{identity}`) and their recent
 * conversation (`get /threads/{identity}`). Implemented by the BLiP edge (`src/blip/directory.ts`). It may be slow
 * or fail: the core bounds each call (`BRIDGE_DIRECTORY_TIMEOUT_MS`) and opens the ticket without what is missing.
 */
export interface CustomerDirectory {
  /** The customer's most recent messages, oldest first, at most `limit`. */
  history(customer: CustomerRef, limit: number): Promise<HistoryEntry[]>;
  /** The customer's contact; undefined when BLiP has none. */
  contact(customer: CustomerRef): Promise<ContactInfo | undefined>;
}
