/**
 * The attendance's life through the lanes (the handlers of timers, operator closes and end keywords): who ends it,
 * what the customer reads, and that the customer is handed back once. The same flows end to end, over BLiP and the
 * emulators: test/e2e/lifecycle.e2e.test.ts.
 */
import type { LifecycleOptions } from '../../src/core/handoff/lifecycle';
import { parseOfficeHours } from '../../src/core/handoff/office-hours';
import { type CoreHarness, type CoreHarnessOptions, startCore, until } from '../helpers/core-harness';
import { agentMessage, customer, logged, message, openedTicket } from '../helpers/handoff-fixtures';

const started: CoreHarness[] = [];
function core(lifecycle: Partial<LifecycleOptions>, options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({ lifecycle: { endKeywords: [], ...lifecycle }, ...options });
  started.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

/** What the customer read and how the attendance ended, in order. */
function story(h: CoreHarness): string[] {
  return h.timeline.steps
    .filter((s) => s.what === 'send' || s.what === 'handBack' || s.what === 'closeTicket')
    .map((s) =>
      s.what === 'send'
        ? `send ${s.text}`
        : s.what === 'handBack'
          ? `handBack ${s.handback.closedBy}`
          : s.what,
    );
}

describe('the attendance lifecycle', () => {
  it('ends on a keyword: the keyword is the last comment the agent reads, then close and hand-back', async () => {
    const h = core({ endKeywords: ['sair'] });
    const who = customer();
    await openedTicket(h, who);
    await h.write(who, message('m2'));
    await h.write(who, message('bye', '  SAIR '));
    expect(h.helpdesk.commentsOf(who.key)).toEqual([message('m1').text, message('m2').text, '  SAIR ']);
    expect(story(h)).toEqual(['closeTicket', 'send Atendimento encerrado. Obrigado!', 'handBack customer']);
    expect(h.timeline.of('closeTicket')[0]!.closedBy).toBe('customer');
    expect(await h.state.store.get(who.key)).toBeUndefined();
  });

  it('closes an attendance whose customer went silent after the agent answered (inactivity timer)', async () => {
    const h = core({ inactivity: { afterMs: 50, text: 'Encerrando por inatividade.' } });
    const ticket = await openedTicket(h);
    await h.helpdeskSends(agentMessage(ticket, 'c1', 'Posso ajudar?'));
    await until(() => h.timeline.of('handBack').length === 1, 'the hand-back');
    expect(story(h)).toEqual([
      'send Posso ajudar?',
      'send Encerrando por inatividade.',
      'closeTicket',
      'send Atendimento encerrado. Obrigado!',
      'handBack expired',
    ]);
  });

  it('hands back an attendance nobody picked up in time, and not one an agent took (no-agent timer)', async () => {
    const noAgent = { afterMs: 50, action: 'redirect' as const, text: 'Nenhum atendente disponível.' };
    const h = core({ noAgent });
    await openedTicket(h, customer(1));
    await until(() => h.timeline.of('handBack').length === 1, 'the hand-back');
    expect(story(h)).toEqual([
      'send Nenhum atendente disponível.',
      'closeTicket',
      'send Atendimento encerrado. Obrigado!',
      'handBack expired',
    ]);
    // Another customer whose ticket an agent takes at once keeps the attendance: the timer is gone.
    const taken = startCore({ lifecycle: { endKeywords: [], noAgent: { ...noAgent, afterMs: 60_000 } } });
    started.push(taken);
    const ticket = await openedTicket(taken, customer(2));
    await taken.helpdeskSends({ kind: 'ticket.assigned', ticket, eventId: 'a1', agent: { id: 'ana' } });
    expect(await taken.state.queue.promoteTimers(Date.now() + 3_600_000, 10)).toEqual([]);
    expect(taken.timeline.of('handBack')).toEqual([]);
  });

  it('ignores a timer of an earlier handoff of the customer (stale)', async () => {
    const h = core({});
    const who = customer();
    await openedTicket(h, who);
    await h.state.queue.schedule(
      'no-agent:old',
      who.key,
      { kind: 'timer', customerKey: who.key, timer: 'inactivity', sessionId: 'an-older-session' },
      Date.now(),
    );
    await until(() => logged(h, 'stale handoff timer ignored').length === 1, 'the stale timer');
    await h.idle();
    expect(h.timeline.of('handBack')).toEqual([]);
    expect((await h.state.store.get(who.key))?.status).toBe('open');
  });

  it('closes the attendance for an operator, after what is already queued for the customer', async () => {
    const h = core({});
    const who = customer();
    await openedTicket(h, who);
    await h.accept(who, message('m2'));
    await h.core.intake.acceptOperatorClose(who.key, 'closed by an operator');
    await h.idle();
    expect(h.helpdesk.commentsOf(who.key)).toEqual([message('m1').text, message('m2').text]);
    expect(h.timeline.of('handBack').map((s) => [s.handback.closedBy, s.handback.reason])).toEqual([
      ['agent', 'closed by an operator'],
    ]);
    // Again, with nothing open: nothing happens.
    await h.core.intake.acceptOperatorClose(who.key, 'again');
    await h.idle();
    expect(logged(h, 'operator close: no open attendance')).toHaveLength(1);
    expect(h.timeline.of('handBack')).toHaveLength(1);
  });

  it('outside the attendance hours: tells the customer and hands back without a ticket (redirect)', async () => {
    const hours = parseOfficeHours('mon-fri 09:00-18:00', 'America/Sao_Paulo');
    const sunday = new Date('2026-11-29T15:00:00.000Z');
    const h = core(
      { officeHours: { hours, action: 'redirect', text: 'Atendemos de segunda a sexta.' } },
      { now: () => sunday },
    );
    await h.write(customer(), message('m1'));
    expect(h.timeline.of('openTicket')).toEqual([]);
    expect(story(h)).toEqual(['send Atendemos de segunda a sexta.', 'handBack out_of_hours']);
    expect(await h.state.store.get(customer().key)).toBeUndefined();
  });
});
