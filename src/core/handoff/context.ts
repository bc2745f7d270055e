import { errorCode, errorMessage } from '../errors';
import { conversationEventBase, type DomainEvents } from '../events';
import { logTag, stableId } from '../ids';
import type { Logger } from '../logger';
import type { ChatMessage, Conversation, CustomerRef, HelpdeskEvent, TicketRef } from '../model';
import type { ConversationStore, CustomerChannel, MediaFetcher, MediaHost, Question } from '../ports';
import type { Routing } from '../routing';
import type { VendorGateway, VendorGateways } from '../vendor-gateway';
import { annotateFailure } from '../work/failure-policy';
import type { WorkItem } from '../work/queue';
import type { TicketDetails } from './details';
import { HandoffFiles } from './files';
import type { Lifecycle } from './lifecycle';
import type { Survey } from './survey';
import type { TicketIndex } from './ticket-index';
import type { LocalizedTexts } from '../texts';

/** What bot owners configure about the handoff itself (texts and the reopen policy are theirs too). */
export interface HandoffSettings {
  /** Tags put on every ticket the bridge opens. */
  tags: string[];
  /** Text sent to the customer right before the hand-back; empty or undefined sends nothing. */
  closingText?: string;
  /** `{agent}`/`{text}` template applied to agent texts when the agent's name is known. */
  agentSignature?: string;
  /** How long processed message and event ids are remembered for dedupe. */
  dedupeTtlMs: number;
  /** What the customer reads instead of an agent's file that could not be delivered; `{file}` = its name. */
  fileNotDeliveredText?: string;
  /**
   * Reopen policy: a customer who comes back within this many ms of a close gets their ticket reopened (vendors
   * that can) instead of a new one. 0 or undefined: off.
   */
  reopenWindowMs?: number;
  /** While the vendor's rate limit makes a customer's message wait, up to this many queued ones become one comment. */
  coalesceMax?: number;
  /**
   * `BRIDGE_READ_RECEIPTS`: `agent` = a customer's message is marked `consumed` once an agent has seen it
   * (./read-state.ts); `queued` or absent = the edge marks it when it is recorded.
   */
  readReceipts?: 'agent' | 'queued';
}

/** Everything the handlers share: the ports, the enabled helpdesks, and the settings. Built once, by the root. */
export interface HandoffDeps {
  store: ConversationStore;
  vendors: VendorGateways;
  /** Which helpdesk a new handoff goes to. */
  routing: Routing;
  channel: CustomerChannel;
  events: DomainEvents;
  logger: Logger;
  index: TicketIndex;
  settings: HandoffSettings;
  /** Waiting and assignment texts, end keywords, inactivity and no-agent timers, attendance hours. */
  lifecycle?: Lifecycle;
  /** The satisfaction survey after the close (`BRIDGE_SURVEY`); without it, none. */
  survey?: Survey;
  /**
   * Every locale's customer texts and whether each customer gets their own (src/texts); without it, every customer
   * reads the lifecycle's and the settings' texts.
   */
  texts?: LocalizedTexts;
  /** Subject, tags, team, priority, contact and transcript of a new ticket (without it: tags and a plain subject). */
  details?: TicketDetails;
  /** Downloads customer files (and agents' public links). */
  media?: MediaFetcher;
  /** Re-hosts agents' files for the customer (`BRIDGE_PUBLIC_URL`). */
  mediaHost?: MediaHost;
  /** Records work in another lane (an event placed in its customer's lane). */
  submit(lane: string, item: WorkItem): Promise<void>;
  now?: () => Date;
}

/** Log fields of a conversation: never the customer's address, only its tag. */
export function conversationLog(conversation: Conversation): Record<string, unknown> {
  return {
    customer: logTag(conversation.customer.key),
    vendor: conversation.ticket?.vendor ?? conversation.vendor,
    ...(conversation.ticket ? { ticket: conversation.ticket.id } : {}),
  };
}

/**
 * The handlers' shared context: the dependencies, plus the few steps every handler takes the same way (a logged
 * external step, an automatic text, a note for the agents, the dedupe marks).
 */
export class Handoff {
  readonly store: ConversationStore;
  readonly vendors: VendorGateways;
  readonly events: DomainEvents;
  readonly logger: Logger;
  readonly index: TicketIndex;
  readonly settings: HandoffSettings;
  readonly files: HandoffFiles;
  readonly now: () => Date;

  constructor(readonly deps: HandoffDeps) {
    this.store = deps.store;
    this.vendors = deps.vendors;
    this.events = deps.events;
    this.logger = deps.logger;
    this.index = deps.index;
    this.settings = deps.settings;
    this.now = deps.now ?? (() => new Date());
    this.files = new HandoffFiles({
      logger: deps.logger,
      media: deps.media,
      mediaHost: deps.mediaHost,
      fileNotDeliveredText: deps.settings.fileNotDeliveredText,
    });
  }

  get lifecycle(): Lifecycle | undefined {
    return this.deps.lifecycle;
  }

  get survey(): Survey | undefined {
    return this.deps.survey;
  }

  /** The helpdesk of a conversation (or of a ticket). */
  vendorOf(of: Conversation | TicketRef): VendorGateway {
    return this.vendors.get('sessionId' in of ? (of.ticket?.vendor ?? of.vendor) : of.vendor);
  }

  /**
   * One external step (a vendor call, a message to the customer). A failure is thrown for the failure policy to
   * decide on, marked with what failed and where, so its one log line says so. Never retried here.
   */
  async step<T>(what: string, log: Record<string, unknown>, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      annotateFailure(err, what, log);
      throw err;
    }
  }

  /** A message the bridge itself sends the customer, once per purpose and session (stable LIME id). */
  async sendAutomatic(
    conversation: Conversation,
    purpose: string,
    text: string,
    key = purpose,
  ): Promise<void> {
    const log = { ...conversationLog(conversation), purpose };
    const messageId = stableId(`${key}:${conversation.sessionId}`);
    await this.step(`send ${purpose} text`, log, () =>
      this.deps.channel.send(conversation.customer, { text }, messageId),
    );
    this.events.emit('automatic.message', {
      ...conversationEventBase(conversation),
      ticket: conversation.ticket,
      purpose,
      messageId,
      text,
      at: this.now().toISOString(),
    });
  }

  /**
   * A question the bridge itself asks the customer (the survey's rating), once per `key` and session (stable LIME
   * id): a select with quick replies or its text fallback (the channel decides); reported like an automatic text.
   */
  async askAutomatic(
    conversation: Conversation,
    purpose: string,
    question: Question,
    key: string,
  ): Promise<void> {
    const log = { ...conversationLog(conversation), purpose };
    const messageId = stableId(`${key}:${conversation.sessionId}`);
    await this.step(`send ${purpose} question`, log, () =>
      this.deps.channel.ask(conversation.customer, question, messageId),
    );
    this.events.emit('automatic.message', {
      ...conversationEventBase(conversation),
      ticket: conversation.ticket,
      purpose,
      messageId,
      text: question.fallback,
      at: this.now().toISOString(),
    });
  }

  /** Sends the customer a message (an agent's reply) with a stable LIME id. */
  sendToCustomer(
    customer: CustomerRef,
    message: Pick<ChatMessage, 'text' | 'attachments'>,
    messageId: string,
    log: Record<string, unknown>,
  ): Promise<void> {
    return this.step('send to customer', log, () => this.deps.channel.send(customer, message, messageId));
  }

  get channel(): CustomerChannel {
    return this.deps.channel;
  }

  /** An internal note on the conversation's ticket when its helpdesk takes notes; a failure is logged, not thrown. */
  async noteForAgents(conversation: Conversation | undefined, text: string): Promise<void> {
    const ticket = conversation?.ticket;
    if (!ticket || !this.vendors.has(ticket.vendor)) return;
    const vendor = this.vendors.get(ticket.vendor);
    if (!vendor.takesNotes) return;
    await vendor.addInternalNote(ticket, text).catch((err: unknown) =>
      // A lost note must not fail the customer's message.
      this.logger.warn('internal note for the agents not written', {
        ...conversationLog(conversation),
        code: errorCode(err),
        error: errorMessage(err),
      }),
    );
  }

  isProcessed(key: string): Promise<boolean> {
    return this.store.isProcessed(key);
  }

  markProcessed(key: string): Promise<void> {
    return this.store.markProcessed(key, this.settings.dedupeTtlMs);
  }
}

/** The dedupe key of a customer's message. */
export function customerDedupeKey(customer: CustomerRef, message: ChatMessage): string {
  return `in:${customer.key}:${message.id}`;
}

/** The dedupe key of a helpdesk event: unique per vendor. */
export function eventDedupeKey(event: HelpdeskEvent): string {
  return `ev:${event.ticket.vendor}:${event.eventId}`;
}
