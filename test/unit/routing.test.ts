/**
 * Routing rules (src/core/routing.ts): which helpdesk a new handoff goes to, chosen once at the customer's first
 * message — the first rule whose every condition holds, else the default — and `BRIDGE_ROUTES` as configured.
 * A core serving two helpdesks at once: test/unit/two-vendors.test.ts.
 */
import type { ChatMessage, CustomerRef, HandoffRequest } from '../../src/core/model';
import { Routing, type RoutingRule } from '../../src/core/routing';
import { routingConfigFrom } from '../../src/routing-config';

const at = new Date('2026-11-25T15:00:00.000Z');
const customer: CustomerRef = {
  key: 'c1@tunnel.msging.net',
  address: 'c1@tunnel.msging.net',
  owner: 'acmerouter@msging.net',
  channel: 'WhatsApp',
};

function first(handoff?: HandoffRequest): ChatMessage {
  return { id: 'm1', text: 'oi', at: at.toISOString(), ...(handoff ? { handoff } : {}) };
}

describe('Routing.choose', () => {
  it('sends every handoff to the default helpdesk without rules', () => {
    expect(new Routing('zendesk').choose(customer, first({ team: 'billing' }), at)).toEqual({
      vendor: 'zendesk',
    });
  });

  it('routes by the team the bot asked for in its Redirect context, ignoring case and spaces', () => {
    const routing = new Routing('zendesk', [{ vendor: 'servicenow', team: 'Billing' }]);
    expect(routing.choose(customer, first({ team: ' billing ' }), at)).toEqual({
      vendor: 'servicenow',
      rule: 1,
    });
    expect(routing.choose(customer, first({ team: 'sales' }), at)).toEqual({ vendor: 'zendesk' });
    // No Redirect context at all: the rule's condition does not hold.
    expect(routing.choose(customer, first(), at)).toEqual({ vendor: 'zendesk' });
  });

  it('routes by other values of the Redirect context, every one of them', () => {
    const routing = new Routing('zendesk', [
      { vendor: 'intercom', context: { plan: 'gold', region: 'sul' } },
    ]);
    expect(routing.choose(customer, first({ data: { plan: 'GOLD', region: 'sul' } }), at)).toEqual({
      vendor: 'intercom',
      rule: 1,
    });
    expect(routing.choose(customer, first({ data: { plan: 'gold' } }), at)).toEqual({ vendor: 'zendesk' });
    expect(routing.choose(customer, first({ team: 'gold' }), at)).toEqual({ vendor: 'zendesk' });
  });

  it('routes by the customer’s channel and by the router that owns the tunnel', () => {
    const rules: RoutingRule[] = [
      { vendor: 'intercom', channel: 'instagram' },
      { vendor: 'servicenow', router: 'ACMEROUTER@msging.net' },
    ];
    const routing = new Routing('zendesk', rules);
    expect(routing.choose({ ...customer, channel: 'Instagram' }, first(), at)).toEqual({
      vendor: 'intercom',
      rule: 1,
    });
    expect(routing.choose(customer, first(), at)).toEqual({ vendor: 'servicenow', rule: 2 });
    expect(routing.choose({ key: 'c2', address: 'c2' }, first(), at)).toEqual({ vendor: 'zendesk' });
  });

  it('routes by the attendance hours at the first message', () => {
    const open = new Date('2026-11-25T13:00:00.000Z');
    const closed = new Date('2026-11-25T23:00:00.000Z');
    const inHours = (when: Date) => when.getTime() === open.getTime();
    const routing = new Routing('zendesk', [{ vendor: 'servicenow', hours: 'closed' }], inHours);
    expect(routing.choose(customer, first(), closed)).toEqual({ vendor: 'servicenow', rule: 1 });
    expect(routing.choose(customer, first(), open)).toEqual({ vendor: 'zendesk' });
    const inside = new Routing('zendesk', [{ vendor: 'intercom', hours: 'open' }], inHours);
    expect(inside.choose(customer, first(), open)).toEqual({ vendor: 'intercom', rule: 1 });
    // No hours configured: always inside them.
    expect(
      new Routing('zendesk', [{ vendor: 'intercom', hours: 'open' }]).choose(customer, first(), closed),
    ).toEqual({
      vendor: 'intercom',
      rule: 1,
    });
  });

  it('needs every condition of a rule, and the first rule that matches wins', () => {
    const routing = new Routing('zendesk', [
      { vendor: 'servicenow', team: 'billing', channel: 'Telegram' },
      { vendor: 'intercom', team: 'billing' },
      { vendor: 'servicenow', team: 'billing' },
    ]);
    expect(routing.choose(customer, first({ team: 'billing' }), at)).toEqual({ vendor: 'intercom', rule: 2 });
    expect(routing.choose({ ...customer, channel: 'Telegram' }, first({ team: 'billing' }), at)).toEqual({
      vendor: 'servicenow',
      rule: 1,
    });
  });
});

describe('BRIDGE_ROUTES', () => {
  it('enables the vendors named (the first is the default) with the rules in order', () => {
    const { config, problems } = routingConfigFrom({
      BRIDGE_VENDOR: 'zendesk',
      BRIDGE_VENDORS: ['zendesk', 'servicenow', 'zendesk'],
      BRIDGE_ROUTES: '[{"team":"billing","vendor":"servicenow"},{"channel":"Instagram","vendor":"zendesk"}]',
    });
    expect(problems).toEqual([]);
    expect(config).toEqual({
      vendors: ['zendesk', 'servicenow'],
      rules: [
        { team: 'billing', vendor: 'servicenow' },
        { channel: 'Instagram', vendor: 'zendesk' },
      ],
    });
    expect(routingConfigFrom({ BRIDGE_VENDOR: 'intercom' })).toEqual({
      config: { vendors: ['intercom'], rules: [] },
      problems: [],
    });
  });

  it('names each problem: not JSON, an unknown field, a vendor not enabled, a rule without a condition', () => {
    expect(routingConfigFrom({ BRIDGE_VENDOR: 'zendesk', BRIDGE_ROUTES: '{team:' }).problems).toEqual([
      expect.stringMatching(/^BRIDGE_ROUTES: must be a JSON array of rules/),
    ]);
    expect(
      routingConfigFrom({ BRIDGE_VENDOR: 'zendesk', BRIDGE_ROUTES: '[{"vendor":"zendesk","queue":"x"}]' })
        .problems,
    ).toEqual([expect.stringMatching(/^BRIDGE_ROUTES\[0\]/)]);
    expect(
      routingConfigFrom({
        BRIDGE_VENDOR: 'zendesk',
        BRIDGE_ROUTES: '[{"vendor":"servicenow","team":"billing"},{"vendor":"zendesk"}]',
      }).problems,
    ).toEqual([
      'BRIDGE_ROUTES[0].vendor: "servicenow" is not enabled (BRIDGE_VENDORS: zendesk)',
      'BRIDGE_ROUTES[1]: names no condition (team, context, channel, router or hours)',
    ]);
  });
});
