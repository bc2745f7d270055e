/**
 * `npm run demo`: the whole handoff loop on this machine, no accounts, no .env.
 * A local BLiP (LIME server) plays the router and a WhatsApp customer, a local Zendesk plays the helpdesk and an
 * agent, and the real bridge (real blip-sdk client, real HTTP, real signed webhooks) sits between them.
 * Exits 0 when the loop completed, 1 with the reason when it did not.
 */
import { createLogger } from '../src/telemetry/logger';
import { startSandbox, type Sandbox } from './harness';
import type { SentByBot } from './lime-server';

const STEP_TIMEOUT_MS = 15_000;

function line(actor: string, text: string): void {
  const time = new Date().toISOString().slice(11, 23);
  console.log(`${time}  ${actor.padEnd(9)} ${text}`);
}

function describeSent(s: SentByBot): string {
  const { type, content } = s.envelope;
  if (type === 'text/plain') return `"${String(content)}"`;
  return `${type} ${JSON.stringify(content)}`;
}

async function run(sandbox: Sandbox): Promise<void> {
  const { lime, helpdesk: zendesk } = sandbox;
  const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
  line(
    'sandbox',
    `LIME server ws://127.0.0.1:${lime.port}, Zendesk emulator ${zendesk.url}` +
      (zendesk.validating ? ' (validating against the OpenAPI file)' : ''),
  );
  line(
    'sandbox',
    `bridge ${sandbox.bridge.url}, bot ${sandbox.bot}, customer ${maria.originator} via tunnel ${maria.address}`,
  );

  const say = (text: string): void => {
    sandbox.say(maria, text);
    line('customer', `"${text}"`);
  };

  say('Oi, meu boleto de março veio com o valor errado');
  const ticket = await zendesk.waitFor(
    () => [...zendesk.ticketsById.values()][0],
    STEP_TIMEOUT_MS,
    'the ticket to be created',
  );
  line(
    'zendesk',
    `ticket #${ticket.id} created: "${ticket.subject}" (requester ${ticket.requester_id}, tags ${ticket.tags.join(',')})`,
  );

  say('O valor deveria ser R$ 89,90');
  say('Vence amanhã, podem verificar?');
  await zendesk.waitFor(
    () => ticket.comments.length >= 3,
    STEP_TIMEOUT_MS,
    'the customer messages to be appended',
  );
  line(
    'zendesk',
    `ticket #${ticket.id} now has ${ticket.comments.length} comments, all by the requester, in order:`,
  );
  for (const c of ticket.comments) line('', `  - ${c.body}`);

  const reply = 'Olá Maria! Corrigi o boleto: o novo valor é R$ 89,90 e o vencimento foi mantido.';
  line('agent', `replies in Zendesk: "${reply}"`);
  const delivery = await zendesk.agentReply(ticket.id, reply);
  line('zendesk', `comment_added webhook signed and delivered (HTTP ${delivery.status})`);
  const got = await lime.waitForSent(
    (s) => s.envelope.to === maria.address && s.envelope.content === reply,
    STEP_TIMEOUT_MS,
    'the agent reply to reach the customer',
  );
  line('customer', `receives ${describeSent(got)} (TO ${got.envelope.to})`);

  await zendesk.agentNote(ticket.id, 'Nota interna: boleto reemitido no ERP.');
  line('agent', 'adds an internal note (never forwarded to the customer)');

  line('agent', `solves ticket #${ticket.id}`);
  await zendesk.solve(ticket.id);
  const redirect = await lime.waitForSent(
    (s) => s.envelope.to === maria.address && s.envelope.type === 'application/vnd.lime.redirect+json',
    STEP_TIMEOUT_MS,
    'the Redirect',
  );
  const sentToMaria = lime.sentTo(maria.address);
  const closing = sentToMaria[sentToMaria.indexOf(redirect) - 1];
  if (closing && closing.envelope.type === 'text/plain')
    line('customer', `receives ${describeSent(closing)}`);
  const context = redirect.envelope.content as {
    address?: string;
    context: { type: string; value: Record<string, unknown> };
  };
  line(
    'bridge',
    `Redirect sent to ${context.address ?? "the router's default bot"} with ${context.context.type} ` +
      `{sequentialId: ${String(context.context.value.sequentialId)}, status: ${String(context.context.value.status)}, endedBy: ${String(context.context.value.endedBy)}}`,
  );
  if (sentToMaria.some((s) => String(s.envelope.content).includes('Nota interna'))) {
    throw new Error('the internal note reached the customer');
  }

  say('Oi de novo, tenho outra dúvida');
  const second = await zendesk.waitFor(
    () => [...zendesk.ticketsById.values()][1],
    STEP_TIMEOUT_MS,
    'a new ticket after the close',
  );
  line('zendesk', `customer wrote after the close: new ticket #${second.id}`);
}

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', format: 'pretty' });
  console.log(
    'blip-helpdesk-bridge demo: customer -> BLiP -> bridge -> Zendesk -> agent -> back to the bot\n',
  );
  let sandbox: Sandbox | undefined;
  try {
    sandbox = await startSandbox({ logger });
    await run(sandbox);
    console.log('\nThe handoff loop completed.');
    process.exitCode = 0;
  } catch (err) {
    console.error(`\nDEMO FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    await sandbox?.stop();
  }
}

void main();
