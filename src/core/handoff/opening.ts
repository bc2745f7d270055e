import { randomUUID } from 'node:crypto';
import { errorCode, errorMessage, PermanentError } from '../errors';
import { logTag } from '../ids';
import type { ChatMessage, Conversation, CustomerRef, OpeningDetails, TicketRef } from '../model';
import type { VendorGateway } from '../vendor-gateway';
import type { WorkRun } from '../work/runner';
import { admitted, sendWaitingText, waitingTextDue } from './automatic-texts';
import { conversationLog, type Handoff } from './context';
import { withoutPendingFiles, type FileFailures, type PendingFile } from './files';
import { reopen, reopenTarget } from './reopen';
import { appendAfterResumed, emitStarted } from './started';
import { localeFor } from './texts';
import { withTranscript } from './transcript';
import { deliveredToHelpdesk } from './read-state';

/**
 * A customer without an open ticket wrote: a new handoff. The helpdesk is chosen (routing), the customer is told
 * they are waiting (before any helpdesk call, so a slow or rate-limited helpdesk never delays it), the ticket is
 * opened — or the customer's ticket closed moments ago is reopened (reopen policy) — and the no-agent timer starts.
 * `existing` is a handoff left `opening` by an earlier attempt (a failure, a crash): resumed with the same session
 * id, so the helpdesk's idempotency key returns the ticket the first try created, and nothing is sent twice.
 * Resolves with the open conversation, or undefined when the customer was handed back (outside attendance hours).
 */
export async function openHandoff(
  h: Handoff,
  existing: Conversation | undefined,
  customer: CustomerRef,
  message: ChatMessage,
  run: WorkRun,
): Promise<Conversation | undefined> {
  const locale = existing ? existing.locale : await localeFor(h, customer, message);
  if (!existing && !(await admitted(h, customer, message, locale))) return undefined;
  const conversation = existing ?? newConversation(h, customer, message, locale);
  // Tracked until the open returns (the ticket is indexed by then): a webhook for a ticket not known yet waits for
  // this, not for what follows.
  return h.index.tracking(open(h, conversation, !existing, message, run));
}

function newConversation(
  h: Handoff,
  customer: CustomerRef,
  message: ChatMessage,
  locale: string | undefined,
): Conversation {
  const route = h.deps.routing.choose(customer, message, h.now());
  h.logger.debug('helpdesk chosen', {
    customer: logTag(customer.key),
    vendor: route.vendor,
    rule: route.rule ?? 'default',
  });
  return {
    sessionId: randomUUID(),
    customer,
    vendor: route.vendor,
    status: 'opening',
    openedAt: h.now().toISOString(),
    tags: h.settings.tags,
    first: message,
    ...(locale ? { locale } : {}),
  };
}

async function open(
  h: Handoff,
  conversation: Conversation,
  isNew: boolean,
  message: ChatMessage,
  run: WorkRun,
): Promise<Conversation> {
  const vendor = h.vendorOf(conversation);
  const log = {
    customer: logTag(conversation.customer.key),
    vendor: vendor.name,
    session: conversation.sessionId,
  };
  const files: FileFailures = run.head.attempts === 0 && !run.lastAttempt ? 'retry' : 'settle';
  const waitingBefore = conversation.waitingSent;
  const prepared = await prepareOpen(h, conversation, isNew, message, run, vendor, log, files).catch(
    async (err: unknown) => {
      // The waiting text went out but a step before the save failed (a download or an upload, the details, the
      // state store): the handoff is saved now, so the retry resumes this session instead of starting another and
      // sending the text again. Best effort: with the store away too, the customer may read it twice.
      if (conversation.waitingSent && !waitingBefore && !(err instanceof PermanentError)) {
        await h.store.save(conversation).catch(() => {});
      }
      throw err;
    },
  );
  if ('reopened' in prepared) return prepared.reopened;
  const { details, first, later } = prepared;
  const afterOpen = vendor.uploadNeedsTicket;
  // Files still to upload are not listed as links on the ticket: they follow as real files.
  const withoutFiles: ChatMessage = afterOpen ? withoutPendingFiles(first) : first;
  // BRIDGE_TRANSCRIPT=comment: the ticket's first comment is the bot conversation, then the customer's message.
  const transcript = details?.transcript;
  const opensWith: ChatMessage =
    transcript?.as === 'comment'
      ? { ...withoutFiles, text: withTranscript(transcript.text, withoutFiles.text) }
      : withoutFiles;

  const ticket = await h
    .step('openTicket', log, () =>
      vendor.openTicket(
        {
          customer: conversation.customer,
          sessionId: conversation.sessionId,
          subject: details?.subject ?? subjectFor(conversation.customer),
          tags: conversation.tags,
          first: opensWith,
          ...(details?.contact ? { contact: details.contact } : {}),
          ...(details?.fields ? { fields: details.fields } : {}),
          ...(transcript?.as === 'native' && transcript.entries ? { history: transcript.entries } : {}),
        },
        `open:${conversation.sessionId}`,
      ),
    )
    .catch(async (err: unknown) => {
      // A refusal would be repeated forever by resuming: the handoff is forgotten (the item is dead-lettered, and
      // the customer's next message starts anew). Other failures keep the `opening` state for the retry.
      if (err instanceof PermanentError) await h.store.remove(conversation);
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
    ...deliveredToHelpdesk(h, conversation, [first]),
    ...(details?.fields?.team ? { team: details.fields.team } : {}),
    ...(details?.fields?.priority ? { priority: details.fields.priority } : {}),
  };
  // The no-agent timer before the open state is saved: once it is saved, a retry finds the message done and would
  // not arm it. Armed by whichever attempt completes the open (arming again replaces it); one that fires while the
  // handoff is still `opening` is ignored, and the retry arms it again.
  await h.lifecycle?.opened(opened, h.now());
  await h.store.save(opened);
  h.index.remember(ticket, opened.customer.key);
  h.logger.info('ticket opened', { ...log, ticket: ticket.id });
  emitStarted(h, opened, ticket, first, false);
  // The transcript note never fails (its failures are logged).
  if (transcript?.as === 'note') await h.noteForAgents(opened, transcript.text);
  if (later.length > 0) await attachAfterOpen(h, vendor, opened, ticket, first, later, log);
  await appendAfterResumed(h, opened, first, message, run, files);
  return opened;
}

/**
 * Everything before the open call: the waiting text (before any helpdesk call), the reopen policy (which may
 * finish the handoff itself), the details and the files, then the `opening` conversation saved once, right before
 * the first helpdesk call that changes anything, with everything gathered by then: a retry resumes it and sends the
 * same request.
 */
async function prepareOpen(
  h: Handoff,
  conversation: Conversation,
  isNew: boolean,
  message: ChatMessage,
  run: WorkRun,
  vendor: VendorGateway,
  log: Record<string, unknown>,
  files: FileFailures,
): Promise<
  | { reopened: Conversation }
  | { details: OpeningDetails | undefined; first: ChatMessage; later: PendingFile[] }
> {
  let unsaved = isNew;
  const waitingBefore = conversation.waitingSent;
  // A new handoff that will send the waiting text is saved first: a crash (kill -9) right after the send resumes this
  // session, so the text, should it go again, goes with the same LIME id (one more write per handoff).
  if (isNew && waitingTextDue(h, conversation)) await h.store.save(conversation);
  // Both settle before a failure is thrown: a waiting text that went out is known to the caller.
  const [waiting, targetOf] = await Promise.allSettled([
    sendWaitingText(h, conversation),
    reopenTarget(h, conversation, vendor),
  ]);
  if (waiting.status === 'rejected') throw waiting.reason;
  if (targetOf.status === 'rejected') throw targetOf.reason;
  const target = targetOf.value;
  if (conversation.waitingSent !== waitingBefore) unsaved = true;
  if (target) {
    if (target !== conversation.reopening) unsaved = true;
    const reopened = await reopen(h, conversation, target, message, run, unsaved, files);
    if (reopened) return { reopened };
    unsaved = false; // the refused reopen saved the conversation without its target
  }
  const hadDetails = conversation.details !== undefined;
  const details = await openingDetails(h, conversation, vendor, log);
  if (!hadDetails && conversation.details !== undefined) unsaved = true;
  // The files are uploaded once and the references kept with the first message (strings, never bytes), so every
  // retry of the open sends the same request. A vendor that can add files to an existing ticket only
  // (`uploadNeedsTicket`) gets them right after the open: downloaded now, held in memory meanwhile.
  let first = conversation.first ?? message;
  const { message: withFiles, later } = await h.files.prepareFiles(
    first,
    log,
    vendor,
    vendor.uploadNeedsTicket ? 'after-open' : undefined,
    files,
  );
  if (withFiles !== first) {
    first = withFiles;
    unsaved = true;
  }
  // The `opening` state (with its session index) is in the store before the helpdesk can know the ticket: a webhook
  // for it may come before the create call returns, and a retry after a crash resumes this session.
  if (unsaved) await h.store.save({ ...conversation, first });
  return { details, first, later };
}

/**
 * The subject, tags, team, priority, contact and transcript the ticket opens with, gathered once per handoff and
 * set on the `opening` conversation, which the caller saves before opening (a retry sends the same request).
 */
async function openingDetails(
  h: Handoff,
  conversation: Conversation,
  vendor: VendorGateway,
  log: Record<string, unknown>,
): Promise<OpeningDetails | undefined> {
  const details = h.deps.details;
  if (!details) return undefined;
  if (conversation.details) return conversation.details;
  const first = conversation.first;
  if (!first) return undefined;
  const gathered = await details.gather(conversation.customer, first, vendor.takesNotes, vendor.takesHistory);
  const name = conversation.customer.name ?? gathered.contact?.name;
  Object.assign(conversation, {
    details: gathered,
    tags: gathered.tags,
    customer: { ...conversation.customer, ...(name ? { name } : {}) },
  });
  h.logger.debug('ticket details gathered', {
    ...log,
    contact: !!gathered.contact,
    transcript: gathered.transcript?.as ?? 'none',
    team: gathered.fields?.team,
  });
  return gathered;
}

/**
 * Uploads the first message's files to the ticket just opened (`uploadNeedsTicket` vendors). A file the helpdesk
 * does not take reaches the ticket as its link with a note, in a follow-up customer message; should that fail too,
 * in an internal note. Never throws: the ticket is open, and the customer's message is on it. (The files exist
 * only in memory here: a crash between the open and these uploads loses them; the message's text, with its links,
 * is on the ticket.)
 */
async function attachAfterOpen(
  h: Handoff,
  vendor: VendorGateway,
  conversation: Conversation,
  ticket: TicketRef,
  first: ChatMessage,
  files: PendingFile[],
  log: Record<string, unknown>,
): Promise<void> {
  const followUp = await h.files.uploadAfterOpen(vendor, ticket, first, files, log);
  if (!followUp) return;
  await vendor
    .appendCustomerMessage(ticket, followUp, `msg:${conversation.sessionId}:${followUp.id}`)
    .catch((err: unknown) => {
      h.logger.warn(
        'the note about files not attached could not be appended; writing it as an internal note',
        {
          ...conversationLog(conversation),
          code: errorCode(err),
          error: errorMessage(err),
        },
      );
      return h.noteForAgents(conversation, followUp.text);
    });
}

function subjectFor(customer: CustomerRef): string {
  const who = customer.name ?? customer.originator ?? customer.key;
  return `BLiP chat: ${who}`;
}
