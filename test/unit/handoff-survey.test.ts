/**
 * The satisfaction survey (BRIDGE_SURVEY), through the lanes of the assembled core: the question after the close,
 * the answer read, the rating to the helpdesk, the report event and the hand-back carrying it; the invalid answer,
 * the message that is no answer, the timeout, the closes that get no survey, and `main-bot`.
 */
import { PermanentError, RetryableError } from '../../src/core/errors';
import type { LocalizedTexts } from '../../src/core/texts';
import { localeTexts } from '../../src/texts';
import { type CoreHarness, type CoreHarnessOptions, startCore, until } from '../helpers/core-harness';
import { closed, customer, message, NOW, openedTicket } from '../helpers/handoff-fixtures';

const texts: LocalizedTexts = {
  defaultLocale: 'pt-BR',
  perCustomer: false,
  byLocale: { 'pt-BR': { ...localeTexts['pt-BR'] }, en: { ...localeTexts.en }, es: { ...localeTexts.es } },
};

const started: CoreHarness[] = [];
function core(options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({ texts, survey: { mode: 'bridge', timeoutMs: 60_000 }, ...options });
  started.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

async function closedForSurvey(h: CoreHarness, who = customer()) {
  const ticket = await openedTicket(h, who);
  await h.helpdeskSends(closed(ticket));
  return ticket;
}

function surveyEnded(h: CoreHarness) {
  return h.emitted.filter((e) => e.name === 'survey.ended').map((e) => e.payload);
}

describe('satisfaction survey (BRIDGE_SURVEY=bridge)', () => {
  it('asks after the agent closes, reads the answer, rates the ticket, records it and hands back with the rating', async () => {
    const h = core();
    const who = customer();
    const ticket = await closedForSurvey(h, who);

    // The closing text, then the question; no hand-back yet, the conversation waits in the survey state.
    const toCustomer = h.timeline.steps.filter((s) => ['send', 'ask', 'handBack'].includes(s.what));
    expect(toCustomer.map((s) => (s.what === 'send' ? s.text : s.what))).toEqual([
      localeTexts['pt-BR'].waiting,
      localeTexts['pt-BR'].closing,
      'ask',
    ]);
    const [ask] = h.timeline.of('ask');
    expect(ask?.to).toBe(who.address);
    expect(ask?.question.text).toBe(localeTexts['pt-BR'].surveyQuestion);
    expect(ask?.question.options.map((o) => o.value)).toEqual(['1', '2', '3', '4', '5']);
    expect(ask?.question.fallback).toContain('1 - Péssimo');
    expect(ask?.question.fallback).toContain(localeTexts['pt-BR'].surveyHint);
    expect(await h.state.store.get(who.key)).toMatchObject({
      status: 'survey',
      survey: { closedBy: 'agent', asked: 1, reason: 'solved' },
    });

    await h.write(who, { ...message('answer'), text: '> Como você avalia…\n4 - Bom', selected: '4 - Bom' });

    expect(h.timeline.of('rate')).toEqual([
      expect.objectContaining({
        ticket: expect.objectContaining({ id: ticket.id }),
        rating: 4,
        again: false,
      }),
    ]);
    expect(h.timeline.of('send').at(-1)?.text).toBe(localeTexts['pt-BR'].surveyThanks);
    const [handBack] = h.timeline.of('handBack');
    expect(handBack?.handback).toMatchObject({
      closedBy: 'agent',
      reason: 'solved',
      rating: 4,
      survey: 'answered',
    });
    expect(surveyEnded(h)).toEqual([
      expect.objectContaining({ outcome: 'answered', rating: 4, locale: 'pt-BR' }),
    ]);
    // The question and the thanks are the bridge's own messages in the report's talk log.
    const automatic = h.emitted.filter((e) => e.name === 'automatic.message').map((e) => e.payload);
    expect(automatic.map((p) => (p as { purpose: string }).purpose)).toEqual([
      'waiting',
      'closing',
      'survey',
      'survey_thanks',
    ]);
    expect(await h.state.store.get(who.key)).toBeUndefined();
    // The answer is no message for the ticket, and it opens nothing.
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    expect(h.timeline.of('append')).toHaveLength(0);
  });

  it('asks once more after an answer that is no rating, then gives up and hands back without one', async () => {
    const h = core();
    const who = customer();
    await closedForSurvey(h, who);
    await h.write(who, { ...message('a1'), text: '7' });
    expect(h.timeline.of('ask')).toHaveLength(2);
    expect(h.timeline.of('send').at(-1)?.text).toBe(localeTexts['pt-BR'].surveyInvalid);
    expect((await h.state.store.get(who.key))?.survey?.asked).toBe(2);
    expect(h.timeline.of('handBack')).toHaveLength(0);

    await h.write(who, { ...message('a2'), text: 'hmm' });
    expect(h.timeline.of('ask')).toHaveLength(2);
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ survey: 'invalid' });
    expect(h.timeline.of('handBack')[0]?.handback.rating).toBeUndefined();
    expect(h.timeline.of('rate')).toHaveLength(0);
    expect(surveyEnded(h)).toEqual([expect.objectContaining({ outcome: 'invalid' })]);
  });

  it('an invalid answer retried after its state was saved is not counted twice (the survey goes on)', async () => {
    const h = core();
    const who = customer();
    await closedForSurvey(h, who);
    // The state store fails once right after the re-ask was saved: the dedupe mark of the answer is not written,
    // so the failure policy runs the same answer again.
    const markProcessed = h.state.store.markProcessed.bind(h.state.store);
    let failed = false;
    h.state.store.markProcessed = async (key, ttl) => {
      if (!failed && key.endsWith(':a1')) {
        failed = true;
        throw new RetryableError('state store hiccup', 'STATE_STORE_UNAVAILABLE');
      }
      return markProcessed(key, ttl);
    };
    await h.write(who, { ...message('a1'), text: 'talvez' });
    expect(failed).toBe(true);
    expect(h.timeline.of('handBack')).toHaveLength(0);
    expect(await h.state.store.get(who.key)).toMatchObject({ status: 'survey', survey: { asked: 2 } });
    await h.write(who, { ...message('a2'), text: '5' });
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ rating: 5, survey: 'answered' });
  });

  it('a rating whose work is retried after the hand-back opens no new ticket and hands back once', async () => {
    const h = core();
    const who = customer();
    await closedForSurvey(h, who);
    const markProcessed = h.state.store.markProcessed.bind(h.state.store);
    let failed = false;
    h.state.store.markProcessed = async (key, ttl) => {
      if (!failed && key.endsWith(':rated')) {
        failed = true;
        throw new RetryableError('state store hiccup', 'STATE_STORE_UNAVAILABLE');
      }
      return markProcessed(key, ttl);
    };
    h.channel.handBackFailures.push(new RetryableError('BLiP away', 'BLIP_NOT_CONNECTED'));
    await h.write(who, { ...message('rated'), text: '5' });
    expect(failed).toBe(true);
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    expect(h.timeline.of('handBack')).toHaveLength(1);
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ rating: 5, survey: 'answered' });
    expect(await h.state.store.get(who.key)).toBeUndefined();
  });

  it('a second answer that is a rating still counts', async () => {
    const h = core();
    const who = customer();
    await closedForSurvey(h, who);
    await h.write(who, { ...message('a1'), text: 'ok' });
    await h.write(who, { ...message('a2'), text: '⭐⭐⭐' });
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ rating: 3, survey: 'answered' });
  });

  it('ends the survey at once on a message that is plainly no answer, without a rating', async () => {
    const h = core();
    const who = customer();
    await closedForSurvey(h, who);
    await h.write(who, {
      ...message('long'),
      text: 'Na verdade ainda tenho uma dúvida sobre a minha fatura de março',
    });
    expect(h.timeline.of('ask')).toHaveLength(1);
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ survey: 'interrupted' });
    expect(await h.state.store.get(who.key)).toBeUndefined();
    // The customer's next message starts a new handoff.
    await h.write(who, message('next'));
    expect(h.timeline.of('openTicket')).toHaveLength(2);
  });

  it('hands back without a rating when nobody answers in time (the work-queue timer)', async () => {
    const h = core({ survey: { mode: 'bridge', timeoutMs: 50 } });
    const who = customer();
    await closedForSurvey(h, who);
    // `redirect.sent` comes once the hand-back is complete (the state removed too).
    await until(() => h.emitted.some((e) => e.name === 'redirect.sent'), 'the hand-back after the timeout');
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ closedBy: 'agent', survey: 'unanswered' });
    expect(surveyEnded(h)).toEqual([expect.objectContaining({ outcome: 'unanswered' })]);
    expect(await h.state.store.get(who.key)).toBeUndefined();
  });

  it('ignores helpdesk events during the survey (a second close does not hand back twice)', async () => {
    const h = core();
    const who = customer();
    const ticket = await closedForSurvey(h, who);
    await h.helpdeskSends(closed(ticket, 'status:2'));
    expect(h.timeline.of('handBack')).toHaveLength(0);
    expect(h.timeline.of('ask')).toHaveLength(1);
    await h.write(who, { ...message('a'), text: '5' });
    expect(h.timeline.of('handBack')).toHaveLength(1);
  });

  it('asks after the customer ends the attendance too, but not after an expiry', async () => {
    const h = core({ lifecycle: { endKeywords: ['sair'], inactivity: { afterMs: 50 } } });
    const a = customer(1);
    await openedTicket(h, a);
    await h.write(a, { ...message('bye'), text: 'sair' });
    expect(h.timeline.of('ask')).toHaveLength(1);

    const b = customer(2);
    const ticket = await openedTicket(h, b);
    await h.helpdeskSends({
      kind: 'agent.message',
      ticket,
      eventId: 'c1',
      agent: { id: 'a1' },
      message: { id: 'c1', text: 'oi', at: NOW.toISOString() },
    });
    await until(() => h.timeline.of('handBack').length === 1, 'the inactivity hand-back');
    expect(h.timeline.of('handBack')[0]?.handback.conversation.customer.key).toBe(b.key);
    expect(h.timeline.of('handBack')[0]?.handback.survey).toBeUndefined();
    expect(h.timeline.of('ask')).toHaveLength(1);
  });

  it('hands back with the rating when the helpdesk refuses it, and retries a passing failure', async () => {
    const h = core();
    const who = customer();
    await closedForSurvey(h, who);
    h.helpdesk.failures.rate = [
      new RetryableError('timeout', 'HTTP_TIMEOUT'),
      new PermanentError('nope', 'HTTP_403'),
    ];
    await h.write(who, { ...message('a'), text: 'cinco' });
    expect(h.timeline.of('rate').map((r) => r.again)).toEqual([false, true]);
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ rating: 5, survey: 'answered' });
    expect(await h.deadLetters()).toHaveLength(0);
  });

  it("asks in the customer's locale", async () => {
    const h = core({ texts: { ...texts, perCustomer: true } });
    const who = customer();
    await h.write(who, { ...message('m1'), handoff: { locale: 'es' } });
    const ticket = (await h.state.store.get(who.key))!.ticket!;
    await h.helpdeskSends(closed(ticket));
    expect(h.timeline.of('ask')[0]?.question.text).toBe(localeTexts.es.surveyQuestion);
    await h.write(who, { ...message('a'), text: 'Excelente' });
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({
      rating: 5,
      conversation: { locale: 'es' },
    });
  });
});

describe('the survey with BRIDGE_READ_RECEIPTS=agent', () => {
  it('marks the answer read at once: the bridge read it, no agent ever will', async () => {
    const h = core({ settings: { readReceipts: 'agent' } });
    const who = customer();
    await closedForSurvey(h, who);
    await h.write(who, { ...message('answer'), text: '5' });
    expect(h.timeline.of('consumed')).toContainEqual({
      what: 'consumed',
      to: who.address,
      messageIds: ['answer'],
    });
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ rating: 5 });
  });
});

describe('BRIDGE_SURVEY=main-bot and off', () => {
  it('main-bot: asks nothing and tells the main bot to run its survey after an agent close', async () => {
    const h = core({ survey: { mode: 'main-bot', timeoutMs: 60_000 } });
    await closedForSurvey(h);
    expect(h.timeline.of('ask')).toHaveLength(0);
    expect(h.timeline.of('handBack')[0]?.handback).toMatchObject({ closedBy: 'agent', survey: 'main-bot' });
  });

  it('off: the hand-back follows the close at once, with no survey field', async () => {
    const h = core({ survey: { mode: 'off', timeoutMs: 60_000 } });
    await closedForSurvey(h);
    expect(h.timeline.of('ask')).toHaveLength(0);
    expect(h.timeline.of('handBack')[0]?.handback.survey).toBeUndefined();
  });
});
