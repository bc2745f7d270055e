import type { ChatMessage, CustomerRef } from './model';

/**
 * One routing rule: every condition it names must hold for the rule to choose its `vendor`. Text is compared
 * without regard to case or surrounding spaces.
 */
export interface RoutingRule {
  vendor: string;
  /** The team the bot asked for in its Redirect context (`{"team":"billing"}`). */
  team?: string;
  /** Other values of the Redirect context's data (`{"plan":"gold"}`: context.plan = gold). */
  context?: Record<string, string>;
  /** The customer's channel, as the BLiP edge names it: WhatsApp, Instagram, Messenger, Telegram, BLiP Chat… */
  channel?: string;
  /** The router bot that owns the tunnel (`#tunnel.owner`), e.g. `router@msging.net`. */
  router?: string;
  /** Inside (`open`) or outside (`closed`) the attendance hours (`BRIDGE_OFFICE_HOURS`). */
  hours?: 'open' | 'closed';
}

/** Which helpdesk a new handoff goes to, and why (logs). */
export interface Route {
  vendor: string;
  /** The rule that chose it (its position, from 1); absent for the default. */
  rule?: number;
}

/**
 * Chooses the helpdesk of a new handoff, once, at the customer's first message: the first rule that matches, else
 * the default. A customer's ticket then stays with the vendor that opened it until it closes (the conversation
 * names its vendor; nothing routes it again).
 */
export class Routing {
  constructor(
    private readonly defaultVendor: string,
    private readonly rules: readonly RoutingRule[] = [],
    /** Whether `at` is inside the attendance hours (no hours configured: always). */
    private readonly inHours: (at: Date) => boolean = () => true,
  ) {}

  choose(customer: CustomerRef, first: ChatMessage, at: Date): Route {
    for (const [index, rule] of this.rules.entries()) {
      if (this.matches(rule, customer, first, at)) return { vendor: rule.vendor, rule: index + 1 };
    }
    return { vendor: this.defaultVendor };
  }

  private matches(rule: RoutingRule, customer: CustomerRef, first: ChatMessage, at: Date): boolean {
    const asked = first.handoff;
    if (rule.team !== undefined && !same(rule.team, asked?.team)) return false;
    if (rule.context) {
      for (const [key, value] of Object.entries(rule.context)) {
        if (!same(value, asked?.data?.[key])) return false;
      }
    }
    if (rule.channel !== undefined && !same(rule.channel, customer.channel)) return false;
    if (rule.router !== undefined && !same(rule.router, customer.owner)) return false;
    if (rule.hours !== undefined && (rule.hours === 'open') !== this.inHours(at)) return false;
    return true;
  }
}

function same(expected: string, actual: string | undefined): boolean {
  return actual !== undefined && expected.trim().toLowerCase() === actual.trim().toLowerCase();
}
