import { errorCode, errorMessage, PermanentError } from '../errors';
import { conversationEventBase } from '../events';
import type { ChatMessage, Conversation, SurveyState, TicketRef } from '../model';
import type { WorkRun } from '../work/runner';
import { conversationLog, customerDedupeKey, type Handoff } from './context';
import { finishHandBack } from './hand-back';
import { bridgeRead } from './read-state';
import { readRating } from './survey-answer';
import { ratingQuestion, surveyTexts } from './survey-question';

/**
 * A customer's message while the conversation waits for the rating (`survey` state). A rating: written to the
 * helpdesk where it keeps ratings, thanked for, recorded (`survey.ended`), then the hand-back carries it. An answer
 * that is no rating ("6", "ok"): the question once more, then the survey is given up. A message that is plainly no
 * answer (a file, a long text): the survey ends at once and the customer is handed back; the message itself is not
 * passed on (a Redirect cannot carry it as the customer's), the customer writes to the main bot next.
 */
export async function surveyReply(
  h: Handoff,
  conversation: Conversation,
  message: ChatMessage,
  run: WorkRun,
): Promise<void> {
  const key = customerDedupeKey(conversation.customer, message);
  // A survey that ended before a failure kept its hand-back from completing: complete it.
  if (conversation.survey?.result) {
    await finish(h, conversation, conversation.survey.result);
    await h.markProcessed(key);
    return;
  }
  if (await h.isProcessed(key)) return;
  // The bridge reads the answer itself (BRIDGE_READ_RECEIPTS=agent: no agent ever will).
  await bridgeRead(h, conversation, message);
  const texts = surveyTexts(h, conversation);
  const answer = readRating(message, texts.labels);
  const log = conversationLog(conversation);
  if (conversation.survey?.askedAgainFor === message.id) {
    // This answer made the question go again before a failure kept it from being marked done: not a second one.
  } else if ('invalid' in answer && (conversation.survey?.asked ?? 1) < 2) {
    if (texts.invalid) await h.sendAutomatic(conversation, 'survey_invalid', texts.invalid);
    await h.askAutomatic(conversation, 'survey', ratingQuestion(texts), 'survey:2');
    // The customer gets the whole timeout again for the second question.
    await h.survey?.arm(conversation, h.now());
    await h.store.save({
      ...conversation,
      survey: {
        ...conversation.survey!,
        asked: 2,
        askedAt: h.now().toISOString(),
        askedAgainFor: message.id,
      },
    });
    h.logger.info('survey answer was no rating: asked once more', log);
  } else {
    if ('rating' in answer) await rate(h, conversation, answer.rating, run);
    const result: SurveyResult =
      'rating' in answer
        ? { outcome: 'answered', rating: answer.rating }
        : { outcome: 'invalid' in answer ? 'invalid' : 'interrupted' };
    if (!('rating' in answer))
      h.logger.info('survey given up: the answer was no rating', { ...log, ...result });
    // Saved, then the answer marked done, then the hand-back: a failure after this point finishes the hand-back on
    // the retry; it never reads the answer again (nor takes it for a new conversation once the state is gone).
    const ended: Conversation = { ...conversation, survey: { ...conversation.survey!, result } };
    await h.store.save(ended);
    await h.markProcessed(key);
    await finish(h, ended, result);
    return;
  }
  await h.markProcessed(key);
}

/** The survey's timer came due: the customer did not answer; handed back without a rating. Stale timers do nothing. */
export async function surveyTimedOut(h: Handoff, customerKey: string, sessionId: string): Promise<void> {
  const conversation = await h.store.get(customerKey);
  if (conversation?.status !== 'survey' || conversation.sessionId !== sessionId) return;
  const result = conversation.survey?.result ?? { outcome: 'unanswered' };
  if (result.outcome === 'unanswered') {
    h.logger.info(
      'survey not answered in time: handing back without a rating',
      conversationLog(conversation),
    );
  }
  await finish(h, conversation, result);
}

type SurveyResult = NonNullable<SurveyState['result']>;

/**
 * The rating to the helpdesk, where it keeps ratings. The failure policy retries a failure; on the last attempt,
 * or when the helpdesk refuses it, the rating stays in the report and the Redirect, and the hand-back goes on.
 */
async function rate(h: Handoff, conversation: Conversation, rating: number, run: WorkRun): Promise<void> {
  const ticket = conversation.ticket as TicketRef;
  if (!h.vendors.has(ticket.vendor)) return;
  const vendor = h.vendorOf(ticket);
  if (!vendor.takesRatings) return;
  const log = conversationLog(conversation);
  try {
    await h.step('rateTicket', log, () =>
      vendor.rateTicket(ticket, rating, `rating:${conversation.sessionId}`, { redelivered: run.redelivered }),
    );
  } catch (err) {
    if (!(err instanceof PermanentError) && !run.lastAttempt) throw err;
    h.logger.warn(
      'the helpdesk did not take the satisfaction rating; it is in the report and the hand-back',
      {
        ...log,
        code: errorCode(err),
        error: errorMessage(err),
      },
    );
  }
}

/** The thanks for a rating, `survey.ended`, and the hand-back (with the rating when there is one). */
async function finish(h: Handoff, conversation: Conversation, result: SurveyResult): Promise<void> {
  const { outcome, rating } = result;
  if (rating) {
    const thanks = surveyTexts(h, conversation).thanks;
    if (thanks) await h.sendAutomatic(conversation, 'survey_thanks', thanks);
  }
  const survey = conversation.survey;
  const now = h.now().toISOString();
  h.events.emit('survey.ended', {
    ...conversationEventBase(conversation),
    ticket: conversation.ticket as TicketRef,
    outcome,
    ...(rating ? { rating } : {}),
    ...(conversation.locale ? { locale: conversation.locale } : {}),
    at: now,
  });
  await finishHandBack(h, conversation, {
    closedBy: survey?.closedBy ?? 'agent',
    closedAt: survey?.closedAt ?? now,
    ...(survey?.reason ? { reason: survey.reason } : {}),
    ...(rating ? { rating } : {}),
    survey: outcome,
  });
}
