import type { DomainEvents } from './events';
import { Handoff, type HandoffDeps } from './handoff/context';
import { handoffHandler } from './handoff/handlers';
import { LiveSignals } from './handoff/live-signals';
import { TicketIndex } from './handoff/ticket-index';
import type { Logger } from './logger';
import type { ConversationStore } from './ports';
import { FailurePolicy, type FailurePolicyOptions } from './work/failure-policy';
import { Intake } from './work/intake';
import type { WorkQueue } from './work/queue';
import { LaneRunner, type LaneRunnerOptions } from './work/runner';

/** What the core is built from: the ports and settings of the handoff, the queue, and how work is run and retried. */
export interface CoreDeps extends Omit<HandoffDeps, 'index' | 'submit'> {
  queue: WorkQueue;
  failures?: Partial<FailurePolicyOptions>;
  lanes?: Partial<LaneRunnerOptions>;
}

/** The core, wired: the edges feed `intake`, the composition root starts and stops `runner`. */
export interface Core {
  intake: Intake;
  runner: LaneRunner;
  failures: FailurePolicy;
  index: TicketIndex;
  handoff: Handoff;
  store: ConversationStore;
  events: DomainEvents;
  logger: Logger;
}

/**
 * Builds the core the one way production and the tests both use: work comes in through the intake, waits in its
 * lane, and is done by the handoff's handler for its kind; failures go to the failure policy.
 */
export function assembleCore(deps: CoreDeps): Core {
  const { queue, failures: failureOptions, lanes, ...handoffDeps } = deps;
  const failures = new FailurePolicy(queue, deps.events, deps.logger, failureOptions);
  const runner = new LaneRunner(queue, failures, deps.logger, lanes);
  const index = new TicketIndex(deps.store);
  const handoff = new Handoff({ ...handoffDeps, index, submit: (lane, item) => runner.submit(lane, item) });
  const intake = new Intake(runner, index, failures, new LiveSignals(handoff));
  runner.handleWith(handoffHandler(handoff));
  return {
    intake,
    runner,
    failures,
    index,
    handoff,
    store: deps.store,
    events: deps.events,
    logger: deps.logger,
  };
}
