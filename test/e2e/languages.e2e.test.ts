/**
 * Languages (issue 20 item 6) through the sandbox (real blip-sdk client, the LIME server answering `get /contacts`
 * like BLiP, the Zendesk emulator firing its own webhooks): with per-customer locales on, a customer whose BLiP
 * contact's culture is Spanish reads every text of the handoff in Spanish, while a customer without one reads the
 * deployment's; the Redirect context's `locale` wins over the contact; BRIDGE_LOCALE=es is the whole deployment's.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { SandboxCustomer } from '../../sandbox/lime-server';
import { captureLogs } from '../helpers/log-capture';
import { freePort } from '../helpers/redis-server';

jest.setTimeout(30_000);

const REDIRECT = 'application/vnd.lime.redirect+json';
const FILE = { name: 'factura.pdf', mimeType: 'application/pdf', data: Buffer.from('%PDF-1.7 factura') };

let sandbox: Sandbox<'zendesk'>;

/** The sandbox turns the waiting, joined and transfer texts off: here they are on, with each locale's defaults. */
const DEFAULT_TEXTS = {
  BRIDGE_WAITING_MESSAGE: undefined,
  BRIDGE_ASSIGNED_MESSAGE: undefined,
  BRIDGE_TRANSFERRED_MESSAGE: undefined,
};

async function start(env: Record<string, string>): Promise<Sandbox<'zendesk'>> {
  sandbox = await startSandbox({
    vendor: 'zendesk',
    logger: captureLogs('warn').logger,
    env: { ...DEFAULT_TEXTS, ...env },
  });
  return sandbox;
}

afterEach(async () => {
  await sandbox?.stop();
});

function texts(s: Sandbox<'zendesk'>, customer: SandboxCustomer): string[] {
  return s.lime
    .sentTo(customer.address)
    .filter((m) => m.envelope.type === 'text/plain')
    .map((m) => String(m.envelope.content));
}

/** Waits for a text to the customer; on a timeout, says what the customer did read. */
async function read(s: Sandbox<'zendesk'>, customer: SandboxCustomer, text: string | RegExp): Promise<void> {
  const matches = (content: unknown) =>
    typeof text === 'string' ? content === text : text.test(String(content));
  await s.lime
    .waitForSent((m) => m.envelope.to === customer.address && matches(m.envelope.content), 10_000)
    .catch(() => {
      throw new Error(
        `waited for ${String(text)}; the customer read ${JSON.stringify(s.lime.sentTo(customer.address).map((m) => [m.envelope.type, m.envelope.content]))}`,
      );
    });
}

async function ticketOf(s: Sandbox<'zendesk'>, first: string) {
  return s.helpdesk.waitFor(
    () => s.helpdesk.tickets().find((t) => JSON.stringify(t).includes(first)),
    10_000,
    `the ticket of "${first}"`,
  );
}

it('gives a Spanish customer (contact culture es-MX) every text of the handoff in Spanish', async () => {
  const port = await freePort();
  const s = await start({
    BRIDGE_CUSTOMER_LOCALE: 'true',
    HTTP_PORT: String(port),
    BRIDGE_PUBLIC_URL: `http://127.0.0.1:${port}`,
    // The agent's file is larger than the bridge takes: it cannot reach the customer, who is told so.
    BRIDGE_MEDIA_MAX_BYTES: '8',
    BRIDGE_NO_AGENT_MINUTES: '0.01',
    BRIDGE_NO_AGENT_ACTION: 'message',
  });
  const lucia = s.customer('5215512345678@wa.gw.msging.net');
  s.lime.setContact(lucia, { name: 'Lucía Fernández', culture: 'es-MX' });
  const maria = s.customer('5511987654399@wa.gw.msging.net');

  s.say(lucia, 'Necesito ayuda con mi factura');
  s.say(maria, 'Preciso de ajuda com meu boleto');
  const ticket = await ticketOf(s, 'Necesito ayuda');
  await ticketOf(s, 'Preciso de ajuda');

  await read(s, lucia, /^Nuestros agentes están ocupados/);
  await s.helpdesk.agentAssign(ticket.id, 'Bruno Tavares');
  await read(s, lucia, 'Bruno Tavares se unió a la conversación.');
  await s.helpdesk.transfer(ticket.id, 'Finanzas');
  await read(s, lucia, 'Te estamos transfiriendo al equipo Finanzas.');
  await s.helpdesk.agentSendFile(ticket.id, FILE, 'Aquí está tu factura');
  await read(s, lucia, /^\[El agente envió un archivo/);
  await s.helpdesk.closeTicket(ticket.id);
  await s.lime.waitForSent((m) => m.envelope.to === lucia.address && m.envelope.type === REDIRECT);

  expect(texts(s, lucia)).toEqual([
    'Estás en la fila para hablar con un agente. Te atenderemos en breve.',
    'Nuestros agentes están ocupados en este momento. Tu mensaje quedó registrado y responderemos lo antes posible.',
    'Bruno Tavares se unió a la conversación.',
    'Te estamos transfiriendo al equipo Finanzas.',
    'Aquí está tu factura',
    '[El agente envió un archivo (factura.pdf) que no se pudo entregar. Ya fue avisado.]',
    'Tu atención ha finalizado. ¡Gracias por contactarnos!',
  ]);
  // A customer without a culture reads the deployment's locale (pt-BR).
  expect(texts(s, maria)[0]).toBe('Você está na fila para falar com um atendente. Já vamos te atender.');
});

it("takes the Redirect context's locale over the contact's culture", async () => {
  const s = await start({ BRIDGE_CUSTOMER_LOCALE: 'true' });
  const john = s.customer('5511987654398@wa.gw.msging.net');
  s.lime.setContact(john, { name: 'John', culture: 'es' });
  s.handOver(john, { locale: 'en-US', text: 'Wants an agent' });
  await s.lime.waitForSent((m) => m.envelope.to === john.address && m.envelope.type === 'text/plain');
  expect(texts(s, john)).toEqual(['You are in the queue for an agent. We will be with you shortly.']);
});

it('with per-customer locales off, every customer reads BRIDGE_LOCALE=es (and an override for it)', async () => {
  const s = await start({ BRIDGE_LOCALE: 'es', BRIDGE_CLOSING_MESSAGE: 'Hasta luego, gracias.' });
  const ana = s.customer('5511987654397@wa.gw.msging.net');
  s.lime.setContact(ana, { name: 'Ana', culture: 'pt-BR' });
  s.say(ana, 'Hola');
  const ticket = await ticketOf(s, 'Hola');
  await s.helpdesk.closeTicket(ticket.id);
  await s.lime.waitForSent((m) => m.envelope.to === ana.address && m.envelope.type === REDIRECT);
  expect(texts(s, ana)).toEqual([
    'Estás en la fila para hablar con un agente. Te atenderemos en breve.',
    'Hasta luego, gracias.',
  ]);
});

it('tells a Spanish customer in Spanish that the attendance is closed (outside the hours)', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const s = await start({
    BRIDGE_CUSTOMER_LOCALE: 'true',
    BRIDGE_OFFICE_HOURS: 'sun-sat 00:00-24:00',
    BRIDGE_TIMEZONE: 'UTC',
    BRIDGE_HOLIDAYS: today,
  });
  const pablo = s.customer('5215512345677@wa.gw.msging.net');
  s.lime.setContact(pablo, { culture: 'es' });
  s.say(pablo, 'hola');
  await s.lime.waitForSent((m) => m.envelope.to === pablo.address && m.envelope.type === REDIRECT);
  expect(texts(s, pablo)).toEqual(['Nuestra atención humana está fuera de horario en este momento.']);
  expect(s.helpdesk.tickets()).toHaveLength(0);
});
