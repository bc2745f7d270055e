/**
 * Vendor-neutral model of the bridge. Nothing here knows BLiP, LIME or any helpdesk.
 */

/** Who the customer is, as seen by the bridge. */
export interface CustomerRef {
  /** Stable key of the customer's state: the FROM identity (name@domain, no instance). */
  key: string;
  /** The exact FROM address we received; every reply goes TO it (a tunnel address behind a router). */
  address: string;
  /** The real customer behind the tunnel (`#tunnel.originator`), e.g. `5511...@wa.gw.msging.net`. */
  originator?: string;
  /** The router bot that owns the tunnel (`#tunnel.owner`). */
  owner?: string;
  /** Display name, when known. */
  name?: string;
  /**
   * The channel the real customer writes from (`WhatsApp`, `Instagram`, `BLiP Chat`…), named by the edge that
   * received the message (the core knows no channel addresses): ticket subjects and routing rules use it.
   */
  channel?: string;
}

export interface Attachment {
  url: string;
  mimeType: string;
  name?: string;
  size?: number;
  /**
   * The vendor's reference for the file once the core downloaded it and the adapter uploaded it (a Zendesk upload
   * token): the adapter attaches the file instead of listing the link.
   */
  uploadRef?: string;
  /**
   * Why the file could not be attached (too large, forbidden address, the helpdesk refused it…); the core has
   * already put a note with the link into the message text, so the adapter does not list the link again.
   */
  notAttached?: string;
  /**
   * Agent side: the link opens only with the helpdesk's credentials (a ServiceNow attachment), so it cannot reach
   * the customer as it is; the bridge re-hosts it (`BRIDGE_PUBLIC_URL`) or tells both sides it could not.
   */
  needsAuth?: boolean;
}

/**
 * A file the bridge downloaded: a customer's, to upload to the helpdesk, or an agent's, to re-host for the customer.
 * Lives only in memory while one message is handled; never in the conversation state (an agent's file is kept
 * for the customer by the media host, `src/media`, with a TTL).
 */
export interface MediaFile {
  name: string;
  mimeType: string;
  size: number;
  data: Buffer;
}

/** One message in either direction, already reduced to what a human reads. */
export interface ChatMessage {
  /** Stable id: the LIME message id (customer side) or the vendor's comment id (agent side). */
  id: string;
  /** Readable text. Non-text content is rendered to text by the edge that received it. */
  text: string;
  attachments?: Attachment[];
  /** Original content type on the customer side (e.g. `text/plain`), for logs and reports. */
  contentType?: string;
  /** ISO-8601 time the bridge received it. */
  at: string;
  /** Content the edge could not render: its type and raw JSON (capped), for an internal note to the agent. */
  unsupported?: { type: string; raw: string };
  /**
   * The option the customer picked when the message answers a select, as the edge read it: a quick reply's text
   * (a reply to a select) or a postback's value (a JSON postback: its JSON). The satisfaction survey reads it.
   */
  selected?: string;
  /**
   * What the bot that handed the customer over asked for (the Redirect context it sent, read by the edge):
   * used when this message opens the ticket, ignored otherwise.
   */
  handoff?: HandoffRequest;
}

/** Ticket fields the bot asks for when it hands the customer over (the Redirect context); all optional. */
export interface HandoffRequest {
  team?: string;
  priority?: TicketPriority;
  tags?: string[];
  subject?: string;
  /** The customer's language (`es`, `pt-BR`, `en-US`): their texts' locale when `BRIDGE_CUSTOMER_LOCALE` is on. */
  locale?: string;
  /** Other values (`context.<key>` in the adapters' field maps); strings only. */
  data?: Record<string, string>;
}

export type TicketPriority = 'low' | 'normal' | 'high' | 'urgent';

/** What BLiP knows about the customer (their contact in the bot's roster), for the requester. */
export interface ContactInfo {
  name?: string;
  email?: string;
  /** E.164 when known (`+5511987654321`). */
  phone?: string;
  city?: string;
  /** The contact's `culture` (`pt-BR`, `es`): their texts' locale when `BRIDGE_CUSTOMER_LOCALE` is on. */
  culture?: string;
  /** The contact's `extras` (string values), e.g. `{ cpf: '123', plano: 'Fibra 500' }`. */
  extras?: Record<string, string>;
}

/** One message of the customer's conversation before the handoff, for the transcript. */
export interface HistoryEntry {
  id: string;
  /** ISO-8601. */
  at: string;
  from: 'customer' | 'bot';
  /** Readable text (non-text content rendered by the edge). */
  text: string;
  /** Files, listed as links in the transcript. */
  attachments?: Attachment[];
}

/** The neutral ticket fields the core resolved (configuration + Redirect context); each adapter maps them. */
export interface TicketFields {
  /** The team / group / queue by name or vendor id (`ZENDESK_GROUPS`, `INTERCOM_TEAMS`, `SERVICENOW_ASSIGNMENT_GROUPS` map names). */
  team?: string;
  priority?: TicketPriority;
  /** Values adapters' field maps read as `context.<key>`. */
  data?: Record<string, string>;
}

/** A ticket, conversation or incident in a helpdesk. */
export interface TicketRef {
  vendor: string;
  /** The vendor's id, used in every API call. */
  id: string;
  /** Human-visible number, when it differs from `id` (ServiceNow INC0010234). */
  number?: string;
  /** Vendor-side id of the requester / contact, when the adapter needs it again. */
  requesterId?: string;
}

export interface Agent {
  id: string;
  name?: string;
}

export interface OpenTicketRequest {
  customer: CustomerRef;
  /** Our id for this handoff; stable across retries. */
  sessionId: string;
  subject: string;
  tags: string[];
  first: ChatMessage;
  /** The customer's contact data from BLiP, when the lookup answered in time. */
  contact?: ContactInfo;
  /** Team, priority and handoff values; absent when nothing was configured or asked for. */
  fields?: TicketFields;
  /**
   * The customer's conversation with the bot before the handoff, oldest first, for a vendor with a native history
   * field (the adapter's `takesHistory`; Omnize's `external_history`). Present only then, and only when
   * `BRIDGE_TRANSCRIPT` is not `off`: the core writes no transcript note or comment for that vendor.
   */
  history?: HistoryEntry[];
}

/** Who ended an attendance. */
export type ClosedBy = 'agent' | 'customer' | 'expired' | 'out_of_hours';

interface EventBase {
  ticket: TicketRef;
  /** Unique per vendor; the core dedupes on (vendor, eventId). */
  eventId: string;
  /**
   * The handoff's session id, when the vendor echoes the reference the bridge gave the ticket
   * (Zendesk external_id, ServiceNow correlation_id). It lets the core place an event that arrives while the
   * ticket is still being opened (an instant auto-reply) instead of dropping it as unknown.
   */
  sessionId?: string;
}

export interface AgentMessageEvent extends EventBase {
  kind: 'agent.message';
  agent?: Agent;
  message: ChatMessage;
}

export interface TicketAssignedEvent extends EventBase {
  kind: 'ticket.assigned';
  agent: Agent;
}

/** A team / group / assignment group of the helpdesk, by its id and, when the vendor says it, its name. */
export interface Team {
  id: string;
  name?: string;
}

/** The ticket moved to another team (Zendesk group, Intercom team, ServiceNow assignment group). */
export interface TicketTransferredEvent extends EventBase {
  kind: 'ticket.transferred';
  team: Team;
}

export interface TicketClosedEvent extends EventBase {
  kind: 'ticket.closed';
  reason?: string;
  agent?: Agent;
}

/**
 * The ticket waits in the helpdesk's queue (Omnize `queued`), at `position` when the vendor says it (1 = next):
 * the customer reads the queue-position text, or the waiting text when it has not gone out yet.
 */
export interface TicketQueuedEvent extends EventBase {
  kind: 'ticket.queued';
  position?: number;
}

/**
 * The helpdesk says no agent can take the ticket now (Omnize `unavailable`): the same path as the no-agent timer
 * (`BRIDGE_NO_AGENT_ACTION`: tell the customer, or hand back as `expired`).
 */
export interface AgentUnavailableEvent extends EventBase {
  kind: 'agent.unavailable';
}

/**
 * The agent is typing (`composing`) or stopped (`paused`): a LIME chat state to the customer. Never stored, never
 * deduped for good (typing repeats), tried at most twice, never counted as a message.
 */
export interface AgentTypingEvent extends EventBase {
  kind: 'agent.typing';
  state: ChatState;
}

export type ChatState = 'composing' | 'paused';

/**
 * An agent saw the customer's messages (a vendor that reports reads: none of Zendesk, Intercom, ServiceNow, Omnize
 * and Chatwoot does through its webhooks; a live-chat vendor may). The customer's messages the bridge delivered to the helpdesk up to
 * `upTo` (ISO-8601; every one delivered so far when absent) are then marked `consumed` for the customer
 * (`BRIDGE_READ_RECEIPTS=agent`). Nothing else happens: no text, no state.
 */
export interface AgentReadEvent extends EventBase {
  kind: 'agent.read';
  upTo?: string;
  agent?: Agent;
}

export type HelpdeskEvent =
  | AgentMessageEvent
  | TicketAssignedEvent
  | TicketTransferredEvent
  | TicketClosedEvent
  | TicketQueuedEvent
  | AgentUnavailableEvent
  | AgentTypingEvent
  | AgentReadEvent;

/** What the customer is doing in the chat (a LIME chat state), for a vendor that shows it to the agent. */
export type CustomerTypingState = ChatState;

/** The state of one customer's handoff. Lives in the state store, keyed by `customer.key`. */
export interface Conversation {
  sessionId: string;
  customer: CustomerRef;
  vendor: string;
  /**
   * `opening` until the helpdesk confirmed the ticket; a retry reuses the session id (and so the idempotency key).
   * `survey`: the ticket is closed and the customer is being asked for a rating before the hand-back (`survey`).
   */
  status: 'opening' | 'open' | 'survey';
  ticket?: TicketRef;
  openedAt: string;
  agent?: Agent;
  tags: string[];
  /** While `opening`: the message the ticket is opened with. */
  first?: ChatMessage;
  /**
   * Ids of customer messages being sent as one comment (coalesced behind the rate limit): recorded before the
   * call so a retry after a crash sends the same comment with the same idempotency key.
   */
  pendingBatch?: string[];
  /**
   * Customer messages as the last comment with files went out (upload references, notes), recorded before the call:
   * a retry of that comment sends them as they are instead of uploading the files again (a helpdesk that attaches
   * uploads to the ticket would show them twice). Replaced by the next comment with files.
   */
  prepared?: ChatMessage[];
  /** The customer message the ticket was opened with: done, even if a crash kept it from being marked so. */
  openedWith?: string;
  /** When the first agent reply reached the customer (no-agent timer, reports). */
  firstAgentReplyAt?: string;
  /**
   * While `opening`: what the ticket opens with besides the first message (contact, fields, subject, transcript),
   * gathered once and kept so a retry sends the same request.
   */
  details?: OpeningDetails;
  /** The team the ticket went to (reports); after a transfer, the team it was moved to (its name, else its id). */
  team?: string;
  /** The priority the ticket opened with (configuration or the Redirect context): the hand-back's context. */
  priority?: TicketPriority;
  /** The helpdesk's id of the team the ticket was last moved to (a repeated transfer to it is not told again). */
  teamId?: string;
  /** How many times the ticket moved to another team. */
  transfers?: number;
  /** When an agent was first assigned (reports, the Redirect context). */
  firstAssignedAt?: string;
  /** Ids of the agents whose "joined" text the customer read in this handoff (once per agent). */
  joined?: string[];
  /** While `opening`: the closed ticket this handoff reopens (reopen policy). */
  reopening?: TicketRef;
  /** The waiting text of this handoff was sent (it goes once, before the first helpdesk call). */
  waitingSent?: boolean;
  /** The last queue position the customer was told (`ticket.queued`): a repeat of it is not told again. */
  queuePosition?: number;
  /** The locale of every text the customer reads from the bridge in this handoff, chosen when it starts. */
  locale?: string;
  /** While `survey`: the close that ended the attendance, and how often the rating was asked. */
  survey?: SurveyState;
  /**
   * `BRIDGE_READ_RECEIPTS=agent`: the customer's messages the helpdesk has (LIME ids, and when the bridge delivered
   * each) that no agent is known to have seen; they are marked `consumed` for the customer on the agent's next
   * reply or read event (src/core/handoff/read-state.ts). Capped (the oldest are dropped).
   */
  unreadByAgent?: Array<{ id: string; at: string }>;
  /**
   * For a vendor with a "seen by the customer" marker (`markReadByCustomer`): the latest agent messages sent to the
   * customer, by the LIME id they were sent with, so the customer's `consumed` can name the vendor's message.
   * Capped (src/core/handoff/live-signals.ts).
   */
  sentToCustomer?: Array<{ id: string; messageId: string; at: string }>;
}

/** The satisfaction survey in progress (`BRIDGE_SURVEY=bridge`): the close it follows, kept for the hand-back. */
export interface SurveyState {
  closedBy: ClosedBy;
  closedAt: string;
  reason?: string;
  /** How many times the question was sent (1, then 2 after an invalid answer). */
  asked: number;
  askedAt: string;
  /** The customer message whose invalid answer made the question go again: a retry of it is no second one. */
  askedAgainFor?: string;
  /**
   * How it ended, saved before the hand-back: a retry (or the next message, or the timer) finishes that hand-back
   * instead of reading an answer again.
   */
  result?: { outcome: Exclude<SurveyOutcome, 'main-bot'>; rating?: number };
}

/**
 * How a satisfaction survey ended: rated, nobody answered in time, two answers that were no rating, or a message
 * that was plainly no answer. `main-bot`: the bridge asked nothing, the main bot runs its own survey.
 */
export type SurveyOutcome = 'answered' | 'unanswered' | 'invalid' | 'interrupted' | 'main-bot';

/** What the core gathered for a ticket about to open (`src/core/ticket-details.ts`). */
export interface OpeningDetails {
  subject: string;
  tags: string[];
  contact?: ContactInfo;
  fields?: TicketFields;
  /**
   * The readable transcript of the bot conversation, and where it goes: an internal note, the first comment, or
   * (`native`) the vendor's own history field, as `entries` in `OpenTicketRequest.history`.
   */
  transcript?: { text: string; as: 'note' | 'comment' | 'native'; entries?: HistoryEntry[] };
}

/** What the core tells the customer channel when it hands the customer back to the bot. */
export interface Handback {
  conversation: Conversation;
  closedBy: ClosedBy;
  closedAt: string;
  reason?: string;
  /** The customer's 1–5 rating, when the bridge's survey got one. */
  rating?: number;
  /** How the survey ended (bridge survey), or `main-bot` when the main bot should run its own. */
  survey?: SurveyOutcome;
}

/** A handoff that ended with a ticket, remembered for the reopen window (`BRIDGE_REOPEN_WINDOW_MINUTES`). */
export interface ClosedHandoff {
  customerKey: string;
  sessionId: string;
  ticket: TicketRef;
  closedBy: ClosedBy;
  closedAt: string;
  tags: string[];
  team?: string;
}
