import type { WorkKind } from '../work/queue';
import type { WorkHandler, WorkRun } from '../work/runner';
import type { Handoff } from './context';
import { customerMessages } from './customer-message';
import { deliveryFailure } from './delivery-failure';
import { helpdeskEvent } from './helpdesk-event';
import { operatorClose } from './operator-close';
import { timer } from './timer';

/** One handler per kind of work; each resolves with how many items, from the head of the lane, it finished. */
const HANDLERS: { readonly [K in WorkKind]: (h: Handoff, run: WorkRun) => Promise<number> } = {
  'customer-message': customerMessages,
  'helpdesk-event': async (h, run) => (await helpdeskEvent(h, run), 1),
  timer: async (h, run) => (await timer(h, run), 1),
  'force-close': async (h, run) => (await operatorClose(h, run), 1),
  'delivery-failure': async (h, run) => (await deliveryFailure(h, run), 1),
};

/** The lane runner's handler: the head of a lane goes to the handler of its kind. */
export function handoffHandler(h: Handoff): WorkHandler {
  return (run) => HANDLERS[run.head.item.kind](h, run);
}
