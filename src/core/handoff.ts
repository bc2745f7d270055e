import { randomUUID } from 'node:crypto';
import type { HelpdeskAdapter } from '../adapters/adapter';
import { errorCode, errorMessage, PermanentError, RetryableError } from './errors';
import { attachmentLinks, conversationEventBase, DomainEvents } from './events';
import { logTag, stableId } from './ids';
import { HandoffFiles, withoutPendingFiles, type PendingFile } from './handoff-files';
import { KeyedMutex } from './keyed-mutex';
import type { Logger } from './logger';
import type {
  AgentMessageEvent,
  ChatMessage,
  ClosedBy,
  Conversation,
  CustomerRef,
  HelpdeskEvent,
  OpeningDetails,
  TicketRef,
} from './model';
import type { ConversationStore, CustomerChannel, CustomerLock, MediaFetcher, MediaHost } from './ports';
import type { Lifecycle } from './lifecycle';
import type { TicketDetails } from './ticket-details';
import { TicketOwners } from './ticket-owners';
import { withTranscript } from './transcript';
import { defaultRetryPolicy, withRetry, type RetryPolicy } from './retry';
import type { TimerKind } from './work';

/**
 * The dispatcher holds the work-queue lane of this name (its lock) while the call runs. A customer's lane is named
 * by the customer key, so work in it already has the customer to itself: the handoff skips its own per-customer
 * lock there (two Redis commands per message saved). Passed explicitly: an AsyncLocalStorage did the same, but
 * in Node 20 it turns on promise hooks for every promise in the process (2% of the bridge's CPU under load).
 */
export interface LaneHeld {
  lane?: string;
}

export interface HandoffOptions {
  /** Tags put on every ticket the bridge opens. */
  tags: string[];
  /** Text sent to the customer right before the hand-back; empty or undefined sends nothing. */
  closingText?: string;
  /** `{agent}`/`{text}` template applied to agent texts when the agent's name is known. */
  agentSignature?: string;
  /** How long processed message and event ids are remembered for dedupe. */
  dedupeTtlMs: number;
  retry?: RetryPolicy;
  /** Per-customer serialisation; in-process by default, shared through Redis when several instances run. */
  lock?: CustomerLock;
  /**
   * Downloads customer files so adapters that can (`uploadAttachment`) attach the real file. Without it, or for
   * an adapter that cannot upload, attachments travel as links.
   */
  media?: MediaFetcher;
  /**
   * Re-hosts agents' files for the customer (`BRIDGE_PUBLIC_URL`): downloaded with the adapter's credentials
   * (`downloadAttachment`) or by `media`, then served by the bridge. Without it agents' links reach the customer
   * unchanged, except links that need the helpdesk's credentials, which become a note to both sides.
   */
  mediaHost?: MediaHost;
  /** What the customer reads instead of an agent's file that could not be delivered; `{file}` = its name. */
  fileNotDeliveredText?: string;
  /** Waiting and assignment texts, end keywords, inactivity and no-agent timers, attendance hours. */
  lifecycle?: Lifecycle;
  /**
   * What a new ticket opens with: subject template, tags, team, priority, the customer's BLiP contact and the
   * transcript of the bot conversation (`src/core/ticket-details.ts`). Without it: `tags` and a plain subject.
   */
  details?: TicketDetails;
  /**
   * Reopen policy: a customer who comes back within this many ms of a close gets their ticket reopened (adapters
   * with `reopenTicket`) instead of a new one. 0 or undefined: off.
   */
  reopenWindowMs?: number;
  now?: () => Date;
}

/** What happened to one helpdesk event; the HTTP edge logs it, tests assert on it. */
export type EventOutcome =
  'delivered' | 'assigned' | 'closed' | 'duplicate' | 'unknown-ticket' | 'stale-ticket';

/**
 * The handoff flow (DESIGN.md §1): open on the first customer message, append the next ones,
 * deliver agent replies TO the customer, and on close send the closing text and the Redirect, then clear the state.
 * Every step for one customer runs under that customer's lock, in arrival order.
 */
export class HandoffService {
  private readonly mutex: CustomerLock;
  /** Ticket opens in flight in this instance (events for a ticket not indexed yet wait for them). */
  private readonly opening = new Set<Promise<unknown>>();
  /** Ticket → customer of tickets this process has seen, for webhook intake without a store read. */
  private readonly owners = new TicketOwners();
  private readonly retry: RetryPolicy;
  private readonly now: () => Date;
  /** Customers' files to the helpdesk, agents' files to the customer. */
  private readonly files: HandoffFiles;

  constructor(
    private readonly store: ConversationStore,
    private readonly adapter: HelpdeskAdapter,
    private readonly channel: CustomerChannel,
    readonly events: DomainEvents,
    private readonly logger: Logger,
    private readonly options: HandoffOptions,
  ) {
    this.retry = options.retry ?? defaultRetryPolicy;
    this.mutex = options.lock ?? new KeyedMutex();
    this.now = options.now ?? (() => new Date());
    this.files = new HandoffFiles({
      adapter,
      logger,
      retry: this.retry,
      media: options.media,
      mediaHost: options.mediaHost,
      fileNotDeliveredText: options.fileNotDeliveredText,
      call: (what, log, work) => this.call(what, log, work),
      ticketNamed: (log) => this.ticketNamed(log),
    });
  }

  /**
   * A message from the customer. Resolves once the helpdesk has it (ticket opened or comment appended);
   * rejects when it could not be delivered after the retries (the caller decides what the customer sees).
   */
  async handleCustomerMessage(customer: CustomerRef, message: ChatMessage): Promise<void> {
    await this.handleCustomerMessages(customer, [message]);
  }

  /**
   * Messages from one customer, oldest first, that waited together (behind the vendor's rate limit): while the
   * ticket is open they go to the helpdesk as ONE comment, in order, so a burst costs one call. Before the ticket
   * is open, only the first is handled (it opens the ticket). Resolves with how many of `messages` were handled,
   * from the first; the caller offers the rest again.
   */
  async handleCustomerMessages(
    customer: CustomerRef,
    messages: ChatMessage[],
    options: {
      /** An earlier attempt at the first message may have reached the helpdesk (`QueuedWork.redelivered`). */
      redelivered?: boolean;
      /** False: send the batch an earlier try recorded, or the first message alone (default true). */
      coalesce?: boolean;
    } & LaneHeld = {},
  ): Promise<number> {
    const redelivered = options.redelivered === true;
    if (messages.length === 0) return 0;
    const lifecycle = this.options.lifecycle;
    return this.exclusive(customer.key, options.lane, async () => {
      // Read together (one round trip to Redis): the conversation, and whether the first message was handled.
      const head = messages[0]!;
      const [existing, headDone] = await Promise.all([
        this.store.get(customer.key),
        this.store.isProcessed(customerDedupeKey(customer, head)),
      ]);
      const open = existing?.status === 'open' && existing.ticket ? existing : undefined;
      // A batch recorded before a crash is sent again exactly as it was, so its idempotency key still matches.
      let batch = open ? batchToSend(open, messages, options.coalesce !== false) : messages.slice(0, 1);
      // A keyword that ends the attendance goes alone, after the messages before it.
      const ending = open && lifecycle ? batch.findIndex((m) => lifecycle.ends(m)) : -1;
      if (ending >= 0) batch = batch.slice(0, Math.max(1, ending));
      // The batch recorded before an earlier try was appended whole once any of it is marked processed (messages are
      // marked only after the append): the rest must not go again, under another key.
      const resumedBatch = !!open?.pendingBatch && batch.length > 1 && open.pendingBatch[0] === batch[0]!.id;
      const fresh: ChatMessage[] = [];
      let markedProcessed = 0;
      for (const message of batch) {
        // The same message can be queued twice (a customer's client re-sends what BLiP did not see consumed) and
        // both copies can wait together behind the rate limit: one batch must not post it twice (chaos suite).
        let seen = open?.openedWith === message.id || fresh.some((m) => m.id === message.id);
        if (
          !seen &&
          (message === head ? headDone : await this.store.isProcessed(customerDedupeKey(customer, message)))
        ) {
          seen = true;
          markedProcessed++;
        }
        if (seen) {
          this.logger.debug('customer message already processed', {
            customer: logTag(customer.key),
            messageId: message.id,
          });
        } else fresh.push(message);
      }
      if (resumedBatch && markedProcessed > 0) fresh.length = 0;
      if (fresh.length > 0 && open) {
        await lifecycle?.customerWrote(open);
        await this.appendBatch(open, open.ticket!, fresh, redelivered);
        if (ending === 0) await this.endHandoff(open, 'customer', 'the customer ended the conversation');
      } else if (fresh.length > 0 && !(await this.admitted(existing, customer, fresh[0]!))) {
        // Outside attendance hours and handed back: no ticket.
      } else if (fresh.length > 0) {
        const opening = this.open(existing, customer, fresh[0]!, redelivered);
        // Tracked until the open returns (the ticket is indexed by then): a webhook for a ticket not known yet
        // waits for that, not for what follows.
        this.opening.add(opening);
        let result: Awaited<typeof opening>;
        try {
          result = await opening;
        } finally {
          this.opening.delete(opening);
        }
        const opened = result?.opened ?? (await this.store.get(customer.key));
        // The waiting text goes out while the transcript note is being written (both settle before the lane moves
        // on; the note never fails, its failures are logged).
        const [, started] = await Promise.allSettled([
          result?.note,
          !existing && opened?.status === 'open' ? this.started(opened) : undefined,
        ]);
        if (started.status === 'rejected') throw started.reason;
      }
      for (const message of fresh) {
        if (!message.unsupported) continue;
        const conversation = await this.store.get(customer.key);
        const { type, raw } = message.unsupported;
        await this.noteForAgents(
          conversation,
          `The customer sent content the bridge cannot show (${type}). Raw content:\n${raw}`,
        );
      }
      for (const message of fresh) {
        await this.store.markProcessed(customerDedupeKey(customer, message), this.options.dedupeTtlMs);
      }
      return batch.length;
    });
  }

  /**
   * A timer of the handoff came due (`inactivity`, `no-agent`). Ignored when it is stale: another handoff of the
   * customer, or the condition no longer holds (an agent picked it up).
   */
  async handleTimer(
    customerKey: string,
    timer: TimerKind,
    sessionId: string,
    options: LaneHeld = {},
  ): Promise<void> {
    const lifecycle = this.options.lifecycle;
    await this.exclusive(customerKey, options.lane, async () => {
      const conversation = await this.store.get(customerKey);
      const log = { customer: logTag(customerKey), timer, session: sessionId };
      if (!lifecycle || conversation?.sessionId !== sessionId || conversation.status !== 'open') {
        this.logger.debug('stale handoff timer ignored', log);
        return;
      }
      if (timer === 'inactivity') {
        const text = lifecycle.options.inactivity?.text;
        if (text) await this.sendAutomatic(conversation, 'inactivity', text);
        this.logger.info('customer inactive: closing the attendance', log);
        await this.endHandoff(conversation, 'expired', 'the customer stopped answering');
        return;
      }
      const noAgent = lifecycle.options.noAgent;
      if (!noAgent || conversation.agent || conversation.firstAgentReplyAt) return;
      if (noAgent.action === 'message') {
        if (noAgent.text) await this.sendAutomatic(conversation, 'no_agent', noAgent.text);
        return;
      }
      this.logger.info('no agent picked the attendance up in time: handing back', log);
      if (noAgent.text) await this.sendAutomatic(conversation, 'no_agent', noAgent.text);
      await this.endHandoff(conversation, 'expired', 'no agent picked the attendance up in time');
    });
  }

  /** An operator ends the attendance (admin API): the ticket is closed and the customer handed back. */
  async forceClose(customerKey: string, reason: string, options: LaneHeld = {}): Promise<boolean> {
    return this.exclusive(customerKey, options.lane, async () => {
      const conversation = await this.store.get(customerKey);
      if (conversation?.status !== 'open' || !conversation.ticket) return false;
      this.logger.info('attendance closed by an operator', { customer: logTag(customerKey) });
      await this.endHandoff(conversation, 'agent', reason);
      return true;
    });
  }

  /** Open conversations, for the admin API. */
  listConversations(limit: number): Promise<Conversation[]> {
    return this.store.list(limit);
  }

  getConversation(customerKey: string): Promise<Conversation | undefined> {
    return this.store.get(customerKey);
  }

  /** Closes the ticket from our side, then hands the customer back. */
  private async endHandoff(conversation: Conversation, closedBy: ClosedBy, reason: string): Promise<void> {
    const ticket = conversation.ticket as TicketRef;
    const log = { customer: logTag(conversation.customer.key), vendor: ticket.vendor, ticket: ticket.id };
    await this.call('closeTicket', log, () => this.adapter.closeTicket(ticket, closedBy));
    await this.closeAndHandBack(conversation, closedBy, reason);
  }

  /**
   * A new attendance outside the attendance hours: the customer is told, then it opens anyway or the customer is
   * handed back (`out_of_hours`) without a ticket. Returns false when it was handed back.
   */
  private async admitted(
    existing: Conversation | undefined,
    customer: CustomerRef,
    message: ChatMessage,
  ): Promise<boolean> {
    const lifecycle = this.options.lifecycle;
    if (existing || !lifecycle) return true;
    const gate = lifecycle.admits(this.now());
    if (gate.open) return true;
    const transient: Conversation = {
      sessionId: stableId(`out_of_hours:${customer.key}:${message.id}`),
      customer,
      vendor: this.adapter.name,
      status: 'opening',
      openedAt: this.now().toISOString(),
      tags: this.options.tags,
    };
    if (gate.text) await this.sendAutomatic(transient, 'out_of_hours', gate.text);
    const log = { customer: logTag(customer.key), vendor: this.adapter.name };
    if (!gate.redirect) {
      this.logger.info('attendance opened outside attendance hours', log);
      return true;
    }
    const closedAt = this.now().toISOString();
    const { address } = await this.call('send redirect', log, () =>
      this.channel.handBack(
        { conversation: transient, closedBy: 'out_of_hours', closedAt, reason: 'outside attendance hours' },
        stableId(`redirect:${transient.sessionId}`),
      ),
    );
    this.logger.info('outside attendance hours: customer handed back to the bot', {
      ...log,
      redirectTo: address ?? '(router default)',
    });
    return false;
  }

  /** The ticket of a new attendance is open: the waiting text, and the no-agent timer. */
  private async started(conversation: Conversation): Promise<void> {
    const lifecycle = this.options.lifecycle;
    if (!lifecycle) return;
    if (lifecycle.options.waitingText) {
      await this.sendAutomatic(conversation, 'waiting', lifecycle.options.waitingText);
    }
    await lifecycle.opened(conversation, this.now());
  }

  /** A message the bridge itself sends the customer, once per purpose and session (stable LIME id). */
  private async sendAutomatic(conversation: Conversation, purpose: string, text: string): Promise<void> {
    const log = { customer: logTag(conversation.customer.key), vendor: conversation.vendor, purpose };
    const messageId = stableId(`${purpose}:${conversation.sessionId}`);
    await this.call(`send ${purpose} text`, log, () =>
      this.channel.send(conversation.customer, { text }, messageId),
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

  /** The customer a helpdesk event is for, from the state alone (no waiting): the work queue's lane. */
  async customerKeyOf(event: HelpdeskEvent): Promise<string | undefined> {
    const { vendor, id } = event.ticket;
    const byTicket = async () => {
      const found = await this.store.customerKeyForTicket(vendor, id);
      if (found) this.owners.remember(vendor, id, found);
      return found;
    };
    const found = await byTicket();
    if (found || !event.sessionId) return found;
    // The store forgets the session index once the ticket's index is written (after writing it): an open that
    // finished between the two reads is found by reading the ticket's index again (only on this miss path).
    return (await this.store.customerKeyForSession(event.sessionId)) ?? (await byTicket());
  }

  /**
   * The customer of a ticket this process has opened or looked up before, without reading the store (see
   * ./ticket-owners.ts). Undefined when not known here: read with `customerKeyOf`.
   */
  knownCustomerOf(event: HelpdeskEvent): string | undefined {
    return this.owners.get(event.ticket.vendor, event.ticket.id);
  }

  /** True when this event was handled already (a vendor's redelivery). */
  isDuplicate(event: HelpdeskEvent): Promise<boolean> {
    return this.store.isProcessed(eventDedupeKey(event));
  }

  /** Events from one webhook delivery or poll, oldest first. Rejects when one must be retried by the vendor. */
  async handleHelpdeskEvents(events: HelpdeskEvent[]): Promise<EventOutcome[]> {
    const outcomes: EventOutcome[] = [];
    for (const event of events) outcomes.push(await this.handleHelpdeskEvent(event));
    return outcomes;
  }

  async handleHelpdeskEvent(
    event: HelpdeskEvent,
    /** The customer, when the event was queued in their lane (known from the ticket index at intake). */
    options: { customerKey?: string } & LaneHeld = {},
  ): Promise<EventOutcome> {
    // A redelivery of an event already handled (often for a handoff that has ended since) is a duplicate,
    // not an unknown ticket. The check is repeated under the lock, where it is race-free.
    if (!options.customerKey && (await this.store.isProcessed(eventDedupeKey(event)))) {
      this.logger.debug('duplicate helpdesk event ignored', {
        vendor: event.ticket.vendor,
        eventId: event.eventId,
      });
      return 'duplicate';
    }
    const customerKey = options.customerKey ?? (await this.customerOf(event));
    const meta = {
      vendor: event.ticket.vendor,
      ticket: event.ticket.id,
      eventId: event.eventId,
      kind: event.kind,
    };
    if (!customerKey) {
      this.logger.warn('helpdesk event for a ticket the bridge does not track; ignored', {
        ...meta,
        code: 'UNKNOWN_TICKET',
      });
      return 'unknown-ticket';
    }
    return this.exclusive(customerKey, options.lane, async () => {
      const dedupeKey = eventDedupeKey(event);
      const [done, conversation] = await Promise.all([
        this.store.isProcessed(dedupeKey),
        this.store.get(customerKey),
      ]);
      if (done) {
        this.logger.info('duplicate helpdesk event ignored', { ...meta, customer: logTag(customerKey) });
        return 'duplicate';
      }
      if (!conversation || conversation.ticket?.id !== event.ticket.id) {
        this.logger.warn('helpdesk event for a ticket that is no longer open; ignored', {
          ...meta,
          customer: logTag(customerKey),
          code: 'STALE_TICKET',
        });
        return 'stale-ticket';
      }
      let outcome: EventOutcome;
      switch (event.kind) {
        case 'agent.message': {
          await this.deliverAgentMessage(conversation, event);
          if (!conversation.firstAgentReplyAt) {
            const latest = (await this.store.get(customerKey)) ?? conversation;
            await this.store.save({ ...latest, firstAgentReplyAt: this.now().toISOString() });
          }
          await this.options.lifecycle?.agentAnswered(conversation, this.now());
          outcome = 'delivered';
          break;
        }
        case 'ticket.assigned': {
          await this.store.save({ ...conversation, agent: event.agent });
          const assignedText = this.options.lifecycle?.options.assignedText;
          if (assignedText && event.agent.id !== conversation.agent?.id) {
            const name =
              event.agent.name?.trim() || this.options.lifecycle?.options.unnamedAgent || 'An agent';
            await this.sendAutomatic(
              { ...conversation, sessionId: `${conversation.sessionId}:${event.agent.id}` },
              'assigned',
              assignedText.replace(/\{agent\}/g, () => name),
            );
          }
          await this.options.lifecycle?.pickedUp(conversation);
          this.events.emit('ticket.assigned', {
            ...conversationEventBase(conversation),
            ticket: event.ticket,
            agentId: event.agent.id,
            agentName: event.agent.name,
            at: this.now().toISOString(),
          });
          outcome = 'assigned';
          break;
        }
        case 'ticket.closed':
          await this.closeAndHandBack(
            { ...conversation, agent: event.agent ?? conversation.agent },
            'agent',
            event.reason,
          );
          outcome = 'closed';
          break;
      }
      await this.store.markProcessed(dedupeKey, this.options.dedupeTtlMs);
      return outcome;
    });
  }

  /**
   * The customer a helpdesk event is for. A ticket the index does not know yet may be one being opened right now
   * (an instant auto-reply, or an agent faster than our bookkeeping): the session reference the vendor echoes finds
   * its customer at once (the customer's lock then makes the event wait for the open); without one, the event waits
   * for the opens this instance has in flight, then looks again.
   */
  async customerOf(event: HelpdeskEvent): Promise<string | undefined> {
    const lookup = () => this.customerKeyOf(event);
    const found = await lookup();
    if (found || this.opening.size === 0) return found;
    await Promise.race([
      Promise.allSettled([...this.opening]),
      new Promise((resolve) => setTimeout(resolve, 15_000).unref()),
    ]);
    return lookup();
  }

  /** A LIME `failed` notification for a message we sent. */
  async handleDeliveryFailure(
    customerKey: string,
    messageId: string,
    code: string,
    reason: string,
  ): Promise<void> {
    const conversation = await this.store.get(customerKey);
    this.logger.warn('message to the customer was not delivered', {
      customer: logTag(customerKey),
      vendor: conversation?.vendor,
      ticket: conversation?.ticket?.id,
      messageId,
      code: 'LIME_DELIVERY_FAILED',
      limeReason: `${code} ${reason}`,
    });
    this.events.emit('delivery.failed', {
      sessionId: conversation?.sessionId,
      customerKey,
      ticket: conversation?.ticket,
      direction: 'to-customer',
      messageId,
      code,
      reason,
      at: this.now().toISOString(),
    });
    await this.noteForAgents(
      conversation,
      `A message to the customer was not delivered (BLiP ${code}: ${reason}; LIME message id ${messageId}). ` +
        'The customer did not see it; consider sending it again.',
    );
  }

  /** An internal note on the conversation's ticket when the adapter can write one; a failure is logged, not thrown. */
  private async noteForAgents(conversation: Conversation | undefined, text: string): Promise<void> {
    const ticket = conversation?.ticket;
    if (!ticket || !this.adapter.addInternalNote) return;
    const log = { customer: logTag(conversation.customer.key), vendor: ticket.vendor, ticket: ticket.id };
    await this.call('add internal note', log, () => this.adapter.addInternalNote!(ticket, text)).catch(() => {
      // already logged by call(); a lost note must not fail the customer's message
    });
  }

  private async open(
    resumed: Conversation | undefined,
    customer: CustomerRef,
    message: ChatMessage,
    redelivered: boolean,
  ): Promise<{ opened: Conversation; note: Promise<void> | undefined } | undefined> {
    // A conversation left in `opening` by a crash is resumed with the same session id, so the helpdesk's
    // idempotency key makes the retry return the ticket the first try created.
    // The first message is kept with it: the retry must send the same request for the key to match.
    const conversation: Conversation = resumed ?? {
      sessionId: randomUUID(),
      customer,
      vendor: this.adapter.name,
      status: 'opening',
      openedAt: this.now().toISOString(),
      tags: this.options.tags,
      first: message,
    };
    // Saved once, right before the first call that changes anything at the helpdesk (reopen saves on its own):
    // with the details and file references gathered by then, in one write instead of three.
    let unsaved = !resumed;
    const log = {
      customer: logTag(customer.key),
      vendor: this.adapter.name,
      session: conversation.sessionId,
    };
    if (await this.reopen(conversation, message, log, redelivered)) return undefined;
    const hadDetails = conversation.details !== undefined;
    const details = await this.openingDetails(conversation, log);
    if (!hadDetails && conversation.details !== undefined) unsaved = true;
    // The files are uploaded once and the references kept with the first message (strings, never bytes), so
    // every retry of the open, in this process or after a crash, sends the same request. An adapter that can add
    // files to an existing ticket only (`uploadNeedsTicket`) gets them right after the open: they are downloaded
    // now (a download that fails is noted in the text the ticket opens with) and held in memory meanwhile.
    let first = conversation.first ?? message;
    const afterOpen = this.adapter.uploadNeedsTicket === true;
    const { message: withFiles, later } = await this.files.prepareFiles(
      first,
      log,
      afterOpen ? 'after-open' : undefined,
    );
    if (withFiles !== first) {
      first = withFiles;
      unsaved = true;
    }
    // The `opening` state (with its session index) is in the store before the helpdesk can know the ticket: a
    // webhook for it may come before the create call returns, and a retry after a crash resumes this session.
    if (unsaved) await this.store.save({ ...conversation, first });
    // Files still to upload are not listed as links on the ticket: they follow as real files.
    const withoutFiles: ChatMessage = afterOpen ? withoutPendingFiles(first) : first;
    // BRIDGE_TRANSCRIPT=comment: the ticket's first comment is the bot conversation, then the customer's message.
    const transcript = details?.transcript;
    const opensWith: ChatMessage =
      transcript?.as === 'comment'
        ? { ...withoutFiles, text: withTranscript(transcript.text, withoutFiles.text) }
        : withoutFiles;

    const ticket = await this.call('openTicket', log, () =>
      this.adapter.openTicket(
        {
          customer: conversation.customer,
          sessionId: conversation.sessionId,
          subject: details?.subject ?? subjectFor(conversation.customer),
          tags: conversation.tags,
          first: opensWith,
          ...(details?.contact ? { contact: details.contact } : {}),
          ...(details?.fields ? { fields: details.fields } : {}),
        },
        `open:${conversation.sessionId}`,
      ),
    ).catch(async (err: unknown) => {
      // Retryable failures keep the `opening` state: the next message resumes with the same idempotency key.
      // A refusal would be repeated forever by resuming, so the handoff is forgotten and the next message starts anew.
      if (err instanceof PermanentError) await this.store.remove(conversation);
      throw err;
    });
    const opened: Conversation = {
      ...conversation,
      status: 'open',
      ticket,
      first: undefined,
      details: undefined,
      // Saved with the open state: a crash before the message is marked done must not post it again as a comment.
      openedWith: first.id,
      ...(details?.fields?.team ? { team: details.fields.team } : {}),
    };
    await this.store.save(opened);
    this.owners.remember(ticket.vendor, ticket.id, opened.customer.key);
    this.logger.info('ticket opened', { ...log, ticket: ticket.id });
    this.emitStarted(opened, ticket, first, false);
    const noted = transcript?.as === 'note' ? transcript.text : undefined;
    // The common case: the caller gets the conversation as saved, and the note is written alongside the waiting
    // text (noteForAgents logs a failure and resolves).
    if (later.length === 0 && first.id === message.id) {
      return { opened, note: noted === undefined ? undefined : this.noteForAgents(opened, noted) };
    }
    if (later.length > 0) await this.attachAfterOpen(opened, ticket, first, later, log);
    if (noted !== undefined) await this.noteForAgents(opened, noted);
    await this.appendAfterResumed(opened, ticket, first, message, redelivered);
    return undefined;
  }

  /** The ticket (re)opened: `handoff.started`, and the first message as the customer's. */
  private emitStarted(opened: Conversation, ticket: TicketRef, first: ChatMessage, reopened: boolean): void {
    const at = this.now().toISOString();
    this.events.emit('handoff.started', {
      ...conversationEventBase(opened),
      ticket,
      customer: opened.customer,
      vendor: opened.vendor,
      openedAt: opened.openedAt,
      tags: opened.tags,
      ...(opened.team ? { team: opened.team } : {}),
      ...(reopened ? { reopened: true } : {}),
      at,
    });
    this.emitCustomerMessage(opened, ticket, first, at);
  }

  private emitCustomerMessage(
    conversation: Conversation,
    ticket: TicketRef,
    message: ChatMessage,
    at: string,
  ) {
    this.events.emit('customer.message', {
      ...conversationEventBase(conversation),
      ticket,
      messageId: message.id,
      contentType: message.contentType,
      text: message.text,
      attachments: attachmentLinks(message.attachments),
      receivedAt: message.at,
      at,
    });
  }

  /**
   * When the (re)open resumed an earlier first message, the message being handled now follows it as a comment. The
   * resumed one is delivered now, even if its own work item gave up (dead letter): a replay must not post it twice.
   */
  private async appendAfterResumed(
    opened: Conversation,
    ticket: TicketRef,
    first: ChatMessage,
    message: ChatMessage,
    redelivered: boolean,
  ): Promise<void> {
    if (first.id === message.id) return;
    await this.store.markProcessed(customerDedupeKey(opened.customer, first), this.options.dedupeTtlMs);
    await this.append(opened, ticket, message, redelivered);
  }

  /**
   * The subject, tags, team, priority, contact and transcript the ticket opens with, gathered once per handoff
   * and set on the `opening` conversation, which the caller saves before opening (a retry sends the same request).
   * Undefined without `details`.
   */
  private async openingDetails(
    conversation: Conversation,
    log: Record<string, unknown>,
  ): Promise<OpeningDetails | undefined> {
    const details = this.options.details;
    if (!details) return undefined;
    if (conversation.details) return conversation.details;
    const first = conversation.first;
    if (!first) return undefined;
    const gathered = await details.gather(conversation.customer, first, !!this.adapter.addInternalNote);
    const name = conversation.customer.name ?? gathered.contact?.name;
    Object.assign(conversation, {
      details: gathered,
      tags: gathered.tags,
      customer: { ...conversation.customer, ...(name ? { name } : {}) },
    });
    this.logger.debug('ticket details gathered', {
      ...log,
      contact: !!gathered.contact,
      transcript: gathered.transcript?.as ?? 'none',
      team: gathered.fields?.team,
    });
    return gathered;
  }

  /**
   * Reopen policy: when the customer's last handoff closed less than `reopenWindowMs` ago and the adapter can
   * reopen, the same ticket is reopened with this message (a new session on the old ticket). Returns false when a
   * new ticket must be opened instead (no recent close, policy off, or the vendor refused: PermanentError).
   * A retryable failure keeps the `opening` conversation with its `reopening` ticket: the retry reopens again.
   */
  private async reopen(
    conversation: Conversation,
    message: ChatMessage,
    log: Record<string, unknown>,
    redelivered: boolean,
  ): Promise<boolean> {
    const windowMs = this.options.reopenWindowMs ?? 0;
    const adapter = this.adapter;
    if (!adapter.reopenTicket || windowMs <= 0 || conversation.details) return false;
    const key = conversation.customer.key;
    let target = conversation.reopening;
    if (!target) {
      const last = await this.store.lastClosed(key);
      const recent = last && this.now().getTime() - Date.parse(last.closedAt) <= windowMs;
      if (!last || !recent || last.ticket.vendor !== adapter.name) return false;
      target = last.ticket;
      Object.assign(conversation, {
        reopening: target,
        tags: last.tags,
        ...(last.team ? { team: last.team } : {}),
      });
      await this.store.save(conversation);
    }
    const ticket = target;
    const meta = { ...log, ticket: ticket.id };
    const first = await this.files.attachFiles(conversation.first ?? message, meta, ticket);
    try {
      await this.callAgain('reopenTicket', meta, redelivered, (again) =>
        adapter.reopenTicket!(ticket, first, `reopen:${conversation.sessionId}`, { again }),
      );
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      this.logger.info('the previous ticket cannot be reopened; opening a new one', {
        ...meta,
        code: err.code,
      });
      await this.store.forgetClosed(key);
      conversation.reopening = undefined;
      await this.store.save(conversation);
      return false;
    }
    const opened: Conversation = {
      ...conversation,
      status: 'open',
      ticket,
      first: undefined,
      reopening: undefined,
    };
    await this.store.save(opened);
    this.owners.remember(ticket.vendor, ticket.id, key);
    await this.store.forgetClosed(key);
    this.logger.info('previous ticket reopened', meta);
    this.emitStarted(opened, ticket, first, true);
    await this.appendAfterResumed(opened, ticket, first, message, redelivered);
    return true;
  }

  /** Reopen policy: the closed handoff is remembered for the window, so the customer's return can reopen it. */
  private async rememberClosed(
    conversation: Conversation,
    closedBy: ClosedBy,
    closedAt: string,
    log: Record<string, unknown>,
  ): Promise<void> {
    const windowMs = this.options.reopenWindowMs ?? 0;
    const ticket = conversation.ticket;
    if (windowMs <= 0 || !this.adapter.reopenTicket || !ticket) return;
    await this.store
      .rememberClosed(
        {
          customerKey: conversation.customer.key,
          sessionId: conversation.sessionId,
          ticket,
          closedBy,
          closedAt,
          tags: conversation.tags,
          ...(conversation.team ? { team: conversation.team } : {}),
        },
        windowMs,
      )
      .catch((err: unknown) =>
        // The hand-back is done; a customer who comes back then gets a new ticket.
        this.logger.warn('could not remember the closed ticket for the reopen window', {
          ...log,
          code: errorCode(err),
          error: errorMessage(err),
        }),
      );
  }

  private append(
    conversation: Conversation,
    ticket: TicketRef,
    message: ChatMessage,
    redelivered = false,
  ): Promise<void> {
    return this.appendBatch(conversation, ticket, [message], redelivered);
  }

  /** Appends one or more customer messages as one comment, in order. */
  private async appendBatch(
    conversation: Conversation,
    ticket: TicketRef,
    messages: ChatMessage[],
    redelivered: boolean,
  ): Promise<void> {
    const log = { customer: logTag(conversation.customer.key), vendor: ticket.vendor, ticket: ticket.id };
    // Outside the retried call: a retry of the comment reuses the upload references instead of downloading again.
    const prepared: ChatMessage[] = [];
    for (const message of messages) prepared.push(await this.files.attachFiles(message, log, ticket));
    const comment = mergeMessages(prepared);
    if (messages.length > 1) {
      await this.store.save({ ...conversation, pendingBatch: messages.map((m) => m.id) });
    }
    await this.callAgain('appendCustomerMessage', log, redelivered, (again) =>
      this.adapter.appendCustomerMessage(ticket, comment, `msg:${conversation.sessionId}:${comment.id}`, {
        again,
      }),
    );
    // `pendingBatch` stays after the append: it only matters while its first message is at the head of the lane
    // (a retry), and until the messages are marked processed a retry must send the same batch under the same key.
    if (messages.length > 1) {
      this.logger.debug('customer messages coalesced into one comment', {
        ...log,
        messages: messages.length,
      });
    }
    this.logger.debug('customer message appended', { ...log, messageId: comment.id });
    const at = this.now().toISOString();
    for (const message of prepared) {
      this.emitCustomerMessage(conversation, ticket, message, at);
    }
  }

  private async deliverAgentMessage(conversation: Conversation, event: AgentMessageEvent): Promise<void> {
    const log = {
      customer: logTag(conversation.customer.key),
      vendor: event.ticket.vendor,
      ticket: event.ticket.id,
    };
    // Files first (outside the retried send): a retry of the send reuses the re-hosted links.
    const { message, failed } = await this.files.filesForCustomer(
      this.signed(event),
      event,
      eventDedupeKey(event),
      log,
    );
    await this.call('send to customer', log, () =>
      this.channel.send(conversation.customer, message, stableId(`agent:${eventDedupeKey(event)}`)),
    );
    this.logger.debug('agent message delivered to the customer', { ...log, eventId: event.eventId });
    if (failed.length > 0) {
      await this.noteForAgents(
        conversation,
        `${failed.length === 1 ? 'A file' : 'Files'} you sent did not reach the customer: ` +
          `${failed.map((f) => `"${f.name}" (${f.reason})`).join('; ')}. ` +
          'The customer was told; please send it another way (for example a public link).',
      );
    }
    if (event.agent && event.agent.id !== conversation.agent?.id) {
      await this.store.save({ ...conversation, agent: event.agent });
    }
    this.events.emit('agent.message', {
      ...conversationEventBase(conversation),
      ticket: event.ticket,
      messageId: event.message.id,
      agentId: event.agent?.id,
      agentName: event.agent?.name,
      text: event.message.text,
      attachments: attachmentLinks(event.message.attachments),
      at: this.now().toISOString(),
    });
  }

  private async closeAndHandBack(
    conversation: Conversation,
    closedBy: ClosedBy,
    reason?: string,
  ): Promise<void> {
    const ticket = conversation.ticket as TicketRef;
    const log = { customer: logTag(conversation.customer.key), vendor: ticket.vendor, ticket: ticket.id };

    // The agent's last reply and the close often arrive in either order: deliver any reply we have not
    // delivered yet before the customer leaves (peers lost "the agent's last comment at solved").
    if (this.adapter.recentAgentMessages) {
      const recent = await this.call('recentAgentMessages', log, () =>
        this.adapter.recentAgentMessages!(ticket),
      );
      for (const event of recent) {
        const key = eventDedupeKey(event);
        if (await this.store.isProcessed(key)) continue;
        await this.deliverAgentMessage(conversation, event);
        await this.store.markProcessed(key, this.options.dedupeTtlMs);
      }
    }

    const closedAt = this.now().toISOString();
    if (this.options.closingText) {
      const closing = this.options.closingText;
      const messageId = stableId(`closing:${conversation.sessionId}`);
      await this.call('send closing text', log, () =>
        this.channel.send(conversation.customer, { text: closing }, messageId),
      );
      this.events.emit('automatic.message', {
        ...conversationEventBase(conversation),
        ticket,
        purpose: 'closing',
        messageId,
        text: closing,
        at: this.now().toISOString(),
      });
    }
    this.events.emit('ticket.closed', {
      ...conversationEventBase(conversation),
      ticket,
      closedBy,
      reason,
      agentId: conversation.agent?.id,
      agentName: conversation.agent?.name,
      at: closedAt,
    });
    const { address } = await this.call('send redirect', log, () =>
      this.channel.handBack(
        { conversation, closedBy, closedAt, reason },
        stableId(`redirect:${conversation.sessionId}`),
      ),
    );
    await this.store.remove(conversation);
    this.owners.forget(ticket.vendor, ticket.id);
    await this.rememberClosed(conversation, closedBy, closedAt, log);
    await this.options.lifecycle?.ended(conversation);
    this.logger.info('customer handed back to the bot', {
      ...log,
      closedBy,
      redirectTo: address ?? '(router default)',
    });
    this.events.emit('redirect.sent', {
      ...conversationEventBase(conversation),
      ticket,
      address,
      at: this.now().toISOString(),
    });
  }

  /**
   * Uploads the first message's files to the ticket just opened (`uploadNeedsTicket` adapters). A file the
   * helpdesk does not take reaches the ticket as its link with a note, in a follow-up customer message; should
   * that fail too, in an internal note. Never throws: the ticket is open, and the customer's message is on it.
   * (The files exist only in memory here: a crash between the open and these uploads loses them; the message's
   * text, with its links, is on the ticket.)
   */
  private async attachAfterOpen(
    conversation: Conversation,
    ticket: TicketRef,
    first: ChatMessage,
    files: PendingFile[],
    log: Record<string, unknown>,
  ): Promise<void> {
    const followUp = await this.files.uploadAfterOpen(ticket, first, files, log);
    if (!followUp) return;
    await this.call('appendCustomerMessage', { ...log, ticket: ticket.id }, () =>
      this.adapter.appendCustomerMessage(ticket, followUp, `msg:${conversation.sessionId}:${followUp.id}`),
    ).catch(() => this.noteForAgents(conversation, followUp.text));
  }

  /** The ticket of the conversation that owns `log.ticket` (for callers that pass only their log fields). */
  private async ticketNamed(log: Record<string, unknown>): Promise<TicketRef | undefined> {
    const id = typeof log.ticket === 'string' ? log.ticket : undefined;
    if (!id) return undefined;
    const customerKey = await this.store.customerKeyForTicket(this.adapter.name, id);
    const conversation = customerKey ? await this.store.get(customerKey) : undefined;
    return conversation?.ticket?.id === id ? conversation.ticket : undefined;
  }

  /** The agent's text with the configured signature, when there is a text and a name to sign with. */
  private signed(event: AgentMessageEvent): AgentMessageEvent['message'] {
    const template = this.options.agentSignature;
    const name = event.agent?.name?.trim();
    if (!template || !name || event.message.text.trim() === '') return event.message;
    const text = template.replace(/\{agent\}/g, () => name).replace(/\{text\}/g, () => event.message.text);
    return { ...event.message, text };
  }

  /**
   * `call` for a write the vendor cannot dedupe by key: `again` tells the adapter that an earlier try may have
   * landed (the unit of work was handed out before, or the previous try here failed in a way that does not say
   * whether the vendor applied it: a timeout, a lost answer, a 5xx). A 429 says it did not, and so does the state
   * store being away (only the rate limiter's slot, taken before the request, touches it).
   */
  private callAgain<T>(
    what: string,
    log: Record<string, unknown>,
    redelivered: boolean,
    work: (again: boolean) => Promise<T>,
  ): Promise<T> {
    let again = redelivered;
    return this.call(what, log, async () => {
      try {
        return await work(again);
      } catch (err) {
        const notSent =
          err instanceof RetryableError &&
          (err.code.endsWith('_RATE_LIMITED') || err.code === 'STATE_STORE_UNAVAILABLE');
        if (!notSent) again = true;
        throw err;
      }
    });
  }

  /**
   * Runs `work` with the customer to itself: under the per-customer lock, unless the dispatcher already holds the
   * customer's lane (same key), which gives the same exclusivity across instances.
   */
  private exclusive<T>(customerKey: string, lane: string | undefined, work: () => Promise<T>): Promise<T> {
    return lane === customerKey ? work() : this.mutex.run(customerKey, work);
  }

  /** One external call with the core's retry policy and a clear log line per failed attempt. */
  private call<T>(what: string, log: Record<string, unknown>, work: () => Promise<T>): Promise<T> {
    return withRetry(work, this.retry, (err: RetryableError, attempt, delayMs) => {
      this.logger.warn(`${what} failed; retrying`, {
        ...log,
        attempt,
        delayMs,
        code: err.code,
        error: err.message,
      });
    }).catch((err: unknown) => {
      this.logger.error(`${what} failed`, { ...log, code: errorCode(err), error: errorMessage(err) });
      throw err;
    });
  }
}

function customerDedupeKey(customer: CustomerRef, message: ChatMessage): string {
  return `in:${customer.key}:${message.id}`;
}

/**
 * The messages to send as one comment: the batch recorded before an earlier try when `messages` starts with it (so
 * the retry is the same request, under the same key), else all of `messages` (or, without `coalesce`, the first).
 */
function batchToSend(conversation: Conversation, messages: ChatMessage[], coalesce: boolean): ChatMessage[] {
  const pending = conversation.pendingBatch;
  if (!pending || pending[0] !== messages[0]?.id) return coalesce ? messages : messages.slice(0, 1);
  const same = messages.slice(0, pending.length);
  return same.length === pending.length && same.every((m, i) => m.id === pending[i])
    ? same
    : messages.slice(0, 1);
}

/** Several customer messages as one: texts in order, one per paragraph, and every attachment. */
function mergeMessages(messages: ChatMessage[]): ChatMessage {
  if (messages.length === 1) return messages[0]!;
  const first = messages[0]!;
  const last = messages[messages.length - 1]!;
  const attachments = messages.flatMap((m) => m.attachments ?? []);
  return {
    id: `${first.id}..${last.id}`,
    text: messages
      .map((m) => m.text)
      .filter((t) => t.trim() !== '')
      .join('\n\n'),
    ...(attachments.length ? { attachments } : {}),
    contentType: first.contentType,
    at: first.at,
  };
}

export function eventDedupeKey(event: HelpdeskEvent): string {
  return `ev:${event.ticket.vendor}:${event.eventId}`;
}

function subjectFor(customer: CustomerRef): string {
  const who = customer.name ?? customer.originator ?? customer.key;
  return `BLiP chat: ${who}`;
}
