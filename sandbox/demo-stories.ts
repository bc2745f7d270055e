/**
 * The demo's stories for any vendor (through the emulators' common interface, `VendorEmulator`): the whole loop
 * with one helpdesk (`npm run demo -- --vendor <name>`), and two helpdesks in one bridge with routing
 * (`npm run demo -- --vendors zendesk,servicenow`). The default `npm run demo` tells the detailed Zendesk story
 * (sandbox/demo.ts).
 */
import type { Sandbox } from './harness';
import type { SandboxCustomer, SentByBot } from './lime-server';
import type { VendorEmulator } from './vendor-emulator';

export const STEP_TIMEOUT_MS = 15_000;
const REDIRECT = 'application/vnd.lime.redirect+json';

export function line(actor: string, text: string): void {
  const time = new Date().toISOString().slice(11, 23);
  console.log(`${time}  ${actor.padEnd(10)} ${text}`);
}

export function describeSent(s: SentByBot): string {
  const { type, content } = s.envelope;
  if (type === 'text/plain') return `"${String(content)}"`;
  return `${type} ${JSON.stringify(content)}`;
}

function receives(
  sandbox: Sandbox,
  c: SandboxCustomer,
  what: (s: SentByBot) => boolean,
  description: string,
) {
  return sandbox.lime.waitForSent(
    (s) => s.envelope.to === c.address && what(s),
    STEP_TIMEOUT_MS,
    description,
  );
}

async function redirected(sandbox: Sandbox, who: string, c: SandboxCustomer): Promise<void> {
  const redirect = await receives(sandbox, c, (s) => s.envelope.type === REDIRECT, 'the Redirect');
  const content = redirect.envelope.content as { address?: string; context?: { type: string } };
  line(
    'bridge',
    `${who} handed back to ${content.address ?? "the router's default bot"} (${content.context?.type})`,
  );
}

/** One helpdesk, any vendor: open, append, reply, internal note, close and hand back, a new ticket after. */
export async function oneHelpdesk(sandbox: Sandbox, name: string): Promise<void> {
  const desk = sandbox.helpdesk as unknown as VendorEmulator;
  const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
  line(
    'sandbox',
    `${name} emulator ${desk.url}${desk.validating ? ' (validating against the OpenAPI file)' : ''}`,
  );
  sandbox.say(maria, 'Oi, meu boleto veio com o valor errado');
  line('customer', '"Oi, meu boleto veio com o valor errado"');
  const ticket = await desk.waitFor(() => desk.tickets()[0], STEP_TIMEOUT_MS, 'the ticket');
  line(name, `ticket ${ticket.id} opened for ${ticket.customerExternalId ?? 'the customer'}`);
  const waiting = sandbox.lime.sentTo(maria.address).find((s) => s.envelope.type === 'text/plain');
  if (waiting) line('customer', `receives ${describeSent(waiting)}`);
  sandbox.say(maria, 'O valor deveria ser R$ 89,90');
  line('customer', '"O valor deveria ser R$ 89,90"');
  await desk.waitFor(
    () => desk.tickets()[0]!.customerMessages.length >= 2,
    STEP_TIMEOUT_MS,
    'the second message',
  );
  line(
    name,
    `ticket ${ticket.id} has the customer's messages in order: ${JSON.stringify(desk.tickets()[0]!.customerMessages)}`,
  );
  await liveChat(sandbox, desk, name, ticket.id, maria);
  const reply = 'Olá Maria! Corrigi o boleto: R$ 89,90.';
  line('agent', `replies in ${name}: "${reply}"`);
  await desk.agentReply(ticket.id, reply);
  const got = await receives(sandbox, maria, (s) => s.envelope.content === reply, 'the agent reply');
  line('customer', `receives ${describeSent(got)} (TO ${got.envelope.to})`);
  await desk.agentNote(ticket.id, 'Nota interna: boleto reemitido.');
  line('agent', 'adds an internal note (never forwarded to the customer)');
  line('agent', `closes ticket ${ticket.id}`);
  await desk.closeTicket(ticket.id);
  await redirected(sandbox, 'Maria', maria);
  if (sandbox.lime.sentTo(maria.address).some((s) => String(s.envelope.content).includes('Nota interna'))) {
    throw new Error('the internal note reached the customer');
  }
  sandbox.say(maria, 'Oi de novo');
  const second = await desk.waitFor(() => desk.tickets()[1], STEP_TIMEOUT_MS, 'a new ticket after the close');
  line(name, `customer wrote after the close: new ticket ${second.id}`);
}

/**
 * Where the vendor reports them (Omnize): the queue position, an agent taking the ticket, and the agent typing,
 * as the customer sees them (texts, then LIME chat states).
 */
async function liveChat(
  sandbox: Sandbox,
  desk: VendorEmulator,
  name: string,
  ticketId: string,
  c: SandboxCustomer,
): Promise<void> {
  if (!desk.queued || !desk.typing) return;
  line(name, 'puts the ticket in the queue at position 2');
  await desk.queued(ticketId, 2);
  const place = await receives(
    sandbox,
    c,
    (s) => String(s.envelope.content).includes('2º'),
    'the queue text',
  );
  line('customer', `receives ${describeSent(place)}`);
  line('agent', `Ana Souza accepts the ticket in ${name}`);
  await desk.agentAssign(ticketId, 'Ana Souza');
  const joined = await receives(
    sandbox,
    c,
    (s) => String(s.envelope.content).includes('Ana Souza'),
    'the joined text',
  );
  line('customer', `receives ${describeSent(joined)}`);
  for (const typing of [true, false]) {
    line('agent', typing ? 'types…' : 'stops typing');
    await desk.typing(ticketId, typing);
    const state = typing ? 'composing' : 'paused';
    const sent = await sandbox.lime.waitForChatState(
      (s) => s.envelope.to === c.address && (s.envelope.content as { state?: string }).state === state,
      STEP_TIMEOUT_MS,
      `the ${state} chat state`,
    );
    line('customer', `sees ${describeSent(sent)}`);
  }
}

/**
 * Two helpdesks in one bridge: Maria (no rule) goes to the default one; João's bot hands him over asking for team
 * "financeiro", which a routing rule sends to the second. Maria's ticket closes while João is mid-conversation.
 */
export async function twoHelpdesks(sandbox: Sandbox, names: [string, string]): Promise<void> {
  const [first, second] = names;
  const deskA = sandbox.helpdesks[first as keyof typeof sandbox.helpdesks]!;
  const deskB = sandbox.helpdesks[second as keyof typeof sandbox.helpdesks]!;
  line(
    'sandbox',
    `BRIDGE_VENDORS=${first},${second}  BRIDGE_ROUTES=${sandbox.config.routing.rules.map((r) => JSON.stringify(r)).join(',')}`,
  );
  const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
  const joao = sandbox.customer('5511912345678@wa.gw.msging.net');
  sandbox.say(maria, 'Meu pedido atrasou');
  line('customer', 'Maria: "Meu pedido atrasou" (no Redirect context: the default helpdesk)');
  sandbox.handOver(joao, { team: 'financeiro', text: 'Quero a segunda via do boleto' });
  line('bot', 'hands João over with the Redirect context {"team":"financeiro"}');
  const ticketA = await deskA.waitFor(
    () => deskA.tickets()[0],
    STEP_TIMEOUT_MS,
    `Maria's ticket in ${first}`,
  );
  line(first, `ticket ${ticketA.id} for Maria: ${JSON.stringify(ticketA.customerMessages)}`);
  const ticketB = await deskB.waitFor(
    () => deskB.tickets()[0],
    STEP_TIMEOUT_MS,
    `João's ticket in ${second}`,
  );
  line(second, `ticket ${ticketB.id} for João: ${JSON.stringify(ticketB.customerMessages)}`);

  await deskA.agentReply(ticketA.id, `Olá Maria, aqui é o ${first}.`);
  await receives(
    sandbox,
    maria,
    (s) => s.envelope.content === `Olá Maria, aqui é o ${first}.`,
    "Maria's reply",
  );
  line('customer', `Maria receives "Olá Maria, aqui é o ${first}." from the ${first} agent`);
  await deskB.agentReply(ticketB.id, `Olá João, aqui é o ${second}.`);
  await receives(
    sandbox,
    joao,
    (s) => s.envelope.content === `Olá João, aqui é o ${second}.`,
    "João's reply",
  );
  line('customer', `João receives "Olá João, aqui é o ${second}." from the ${second} agent`);

  line('agent', `closes Maria's ticket in ${first} while João is mid-conversation`);
  await deskA.closeTicket(ticketA.id);
  await redirected(sandbox, 'Maria', maria);
  sandbox.say(joao, 'Ainda estou aqui');
  line('customer', 'João: "Ainda estou aqui"');
  await deskB.waitFor(
    () => deskB.tickets()[0]!.customerMessages.includes('Ainda estou aqui'),
    STEP_TIMEOUT_MS,
    "João's message on his ticket",
  );
  line(
    second,
    `João's ticket ${ticketB.id} stays with ${second}: ${JSON.stringify(deskB.tickets()[0]!.customerMessages)}`,
  );
  await deskB.closeTicket(ticketB.id);
  await redirected(sandbox, 'João', joao);
}
