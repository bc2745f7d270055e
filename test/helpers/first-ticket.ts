import type { VendorName } from '../../src/adapters/registry';
import type { Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import type { TicketView } from '../../sandbox/vendor-emulator';

export interface FirstTicketOptions {
  /** How long to wait for the ticket (the emulators' default: 10 s). */
  timeoutMs?: number;
  /** Then wait until the bridge has nothing left to do (the open's own vendor calls are done). */
  idle?: boolean;
}

/**
 * The customer `originator` writes `text` to a sandbox with no ticket yet; resolves with that customer and the
 * first ticket once the helpdesk emulator shows it.
 */
export async function openFirstTicket(
  sandbox: Sandbox<VendorName>,
  originator: string,
  text: string,
  options: FirstTicketOptions = {},
): Promise<{ customer: SandboxCustomer; ticket: TicketView }> {
  const customer = sandbox.customer(originator);
  sandbox.say(customer, text);
  const ticket = await sandbox.helpdesk.waitFor(
    () => sandbox.helpdesk.tickets()[0],
    options.timeoutMs ?? 10_000,
    'a ticket',
  );
  if (options.idle) await sandbox.bridge.runner.idle();
  return { customer, ticket };
}
