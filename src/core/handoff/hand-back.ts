import { errorCode, errorMessage } from '../errors';
import { conversationEventBase } from '../events';
import { stableId } from '../ids';
import type { ClosedBy, Conversation, Handback, SurveyState, TicketRef } from '../model';
import { deliverAgentMessage } from './agent-message';
import { conversationLog, eventDedupeKey, type Handoff } from './context';
import { ratingQuestion, surveyTexts } from './survey-question';
import { textsOf } from './texts';

/** The bridge closes the ticket on its side (the customer ended it, a timer, an operator), then hands back. */
export async function endHandoff(
  h: Handoff,
  conversation: Conversation,
  closedBy: ClosedBy,
  reason: string,
): Promise<void> {
  const ticket = conversation.ticket as TicketRef;
  if (!h.vendors.has(ticket.vendor)) return endOrphaned(h, conversation);
  const vendor = h.vendorOf(ticket);
  await h.step('closeTicket', conversationLog(conversation), () => vendor.closeTicket(ticket, closedBy));
  await handBack(h, conversation, closedBy, reason);
}

/**
 * A handoff whose ticket is on a helpdesk this deployment no longer enables (`BRIDGE_VENDORS` changed while it was
 * open): nothing can be asked of that helpdesk, so the customer is handed back by the bridge alone, loudly.
 */
export async function endOrphaned(h: Handoff, conversation: Conversation): Promise<void> {
  h.logger.error(
    "the customer's ticket is on a helpdesk that is no longer enabled; handing the customer back",
    {
      ...conversationLog(conversation),
      code: 'VENDOR_NOT_ENABLED',
    },
  );
  await handBack(h, conversation, 'expired', 'the helpdesk of this attendance is no longer enabled');
}

/**
 * The end of a handoff: the agent's last replies that have not reached the customer yet, the closing text, then
 * either the satisfaction survey (`BRIDGE_SURVEY=bridge`, which hands back once answered or timed out) or at once
 * the Redirect that hands the customer back to the bot (with the ticket, as BLiP Desk does), and the state cleared.
 * Every step is safe to repeat (stable LIME ids, dedupe marks), so a failure anywhere runs it all again.
 */
export async function handBack(
  h: Handoff,
  conversation: Conversation,
  closedBy: ClosedBy,
  reason?: string,
): Promise<void> {
  const ticket = conversation.ticket as TicketRef;
  const log = conversationLog(conversation);
  const vendor = h.vendors.has(ticket.vendor) ? h.vendorOf(ticket) : undefined;

  // The agent's last reply and the close often arrive in either order: deliver any reply we have not
  // delivered yet before the customer leaves (peers lost "the agent's last comment at solved").
  const recent = vendor
    ? await h.step('recentAgentMessages', log, () => vendor.recentAgentMessages(ticket))
    : [];
  for (const event of recent) {
    const key = eventDedupeKey(event);
    if (await h.isProcessed(key)) continue;
    await deliverAgentMessage(h, conversation, event, 'settle');
    await h.markProcessed(key);
  }

  const closedAt = h.now().toISOString();
  const closing = textsOf(h, conversation).closing;
  if (closing) await h.sendAutomatic(conversation, 'closing', closing);
  h.events.emit('ticket.closed', {
    ...conversationEventBase(conversation),
    ticket,
    closedBy,
    reason,
    agentId: conversation.agent?.id,
    agentName: conversation.agent?.name,
    ...(conversation.locale ? { locale: conversation.locale } : {}),
    at: closedAt,
  });
  const close: SurveyState = {
    closedBy,
    closedAt,
    ...(reason ? { reason } : {}),
    asked: 1,
    askedAt: closedAt,
  };
  if (h.survey?.asks(closedBy)) return startSurvey(h, conversation, close, log);
  await finishHandBack(h, conversation, {
    closedBy,
    closedAt,
    reason,
    ...(h.survey?.leavesToMainBot(closedBy) ? { survey: 'main-bot' as const } : {}),
  });
}

/**
 * `BRIDGE_SURVEY=bridge`: the ticket is closed; the customer is asked for a rating before the hand-back. The
 * conversation waits in the `survey` state (the state store) with a timer (the work queue), so an answer or the
 * timeout finishes it on any instance, after a restart too (`survey-reply.ts`). The question goes first, with a
 * stable LIME id, and the state is saved last: a retry asks the same question again rather than wait for nothing.
 */
async function startSurvey(
  h: Handoff,
  conversation: Conversation,
  survey: SurveyState,
  log: Record<string, unknown>,
): Promise<void> {
  await h.lifecycle?.ended(conversation);
  const question = ratingQuestion(surveyTexts(h, conversation));
  await h.askAutomatic(conversation, 'survey', question, 'survey:1');
  await h.survey?.arm(conversation, h.now());
  await h.store.save({ ...conversation, status: 'survey', survey });
  h.logger.info('ticket closed: satisfaction survey sent', { ...log, closedBy: survey.closedBy });
}

/**
 * The Redirect that hands the customer back to the bot (with the ticket, as BLiP Desk does, and the rating when
 * the survey got one), then the state is cleared. Safe to repeat (a stable LIME id).
 */
export async function finishHandBack(
  h: Handoff,
  conversation: Conversation,
  end: Omit<Handback, 'conversation'>,
): Promise<void> {
  const ticket = conversation.ticket as TicketRef;
  const log = conversationLog(conversation);
  const { closedBy, closedAt } = end;
  const { address } = await h.step('send redirect', log, () =>
    h.channel.handBack({ conversation, ...end }, stableId(`redirect:${conversation.sessionId}`)),
  );
  await h.store.remove(conversation);
  h.index.forget(ticket);
  await rememberClosed(h, conversation, closedBy, closedAt, log);
  await h.lifecycle?.ended(conversation);
  if (conversation.status === 'survey') await h.survey?.cancel(conversation);
  h.logger.info('customer handed back to the bot', {
    ...log,
    closedBy,
    ...(end.rating ? { rating: end.rating } : {}),
    redirectTo: address ?? '(router default)',
  });
  h.events.emit('redirect.sent', {
    ...conversationEventBase(conversation),
    ticket,
    address,
    at: h.now().toISOString(),
  });
}

/** Reopen policy: the closed handoff is remembered for the window, so the customer's return can reopen it. */
async function rememberClosed(
  h: Handoff,
  conversation: Conversation,
  closedBy: ClosedBy,
  closedAt: string,
  log: Record<string, unknown>,
): Promise<void> {
  const windowMs = h.settings.reopenWindowMs ?? 0;
  const ticket = conversation.ticket;
  if (windowMs <= 0 || !ticket || !h.vendors.has(ticket.vendor) || !h.vendorOf(ticket).reopens) return;
  await h.store
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
      h.logger.warn('could not remember the closed ticket for the reopen window', {
        ...log,
        code: errorCode(err),
        error: errorMessage(err),
      }),
    );
}
