/**
 * `npm run demo`: the whole handoff loop on this machine, no accounts, no .env.
 * A local BLiP (LIME server) plays the router and a WhatsApp customer, a local Zendesk plays the helpdesk and an
 * agent, and the real bridge (real blip-sdk client, real HTTP, real signed webhooks) sits between them.
 * Exits 0 when the loop completed, 1 with the reason when it did not.
 */
import { parseArgs } from 'node:util';
import { type VendorName, vendorNames } from '../src/adapters/registry';
import { createLogger } from '../src/telemetry/logger';
import { describeSent, line, oneHelpdesk, STEP_TIMEOUT_MS, twoHelpdesks } from './demo-stories';
import { testKit } from './emulators';
import { startSandbox, type Sandbox } from './harness';

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

  // Before the handoff Maria talked to the router's bot; BLiP keeps that thread and her contact (`get /threads`,
  // `get /contacts`), which the bridge reads over its own LIME session when it opens the ticket.
  lime.setContact(maria, {
    name: 'Maria Oliveira',
    email: 'maria.oliveira@example.com.br',
    phoneNumber: '+5511987654321',
    extras: { cpf: '12345678909', plano: 'Fibra 500' },
  });
  const botTalk = [
    { from: 'customer' as const, content: 'Oi' },
    { from: 'bot' as const, content: 'Olá, Maria! Sou a assistente virtual da Acme. Como posso ajudar?' },
    { from: 'customer' as const, content: 'Problema com boleto' },
    { from: 'bot' as const, content: 'Certo! Vou te transferir para um atendente.' },
  ];
  lime.seedThread(maria, botTalk);
  for (const m of botTalk)
    line(m.from === 'bot' ? 'bot' : 'customer', `"${m.content}" (with the router's bot)`);

  say('Oi, meu boleto de março veio com o valor errado');
  const ticket = await zendesk.waitFor(
    () => [...zendesk.ticketsById.values()][0],
    STEP_TIMEOUT_MS,
    'the ticket to be created',
  );
  const requester = zendesk.users.get(ticket.requester_id);
  line(
    'zendesk',
    `ticket #${ticket.id} created: "${ticket.subject}" (requester ${requester?.name} <${requester?.email}> ` +
      `${requester?.phone}, tags ${ticket.tags.join(',')})`,
  );
  const waiting = await lime.waitForSent(
    (s) => s.envelope.to === maria.address && s.envelope.type === 'text/plain',
    STEP_TIMEOUT_MS,
    'the waiting message',
  );
  line('customer', `receives ${describeSent(waiting)}`);
  const note = await zendesk.waitFor(
    () => ticket.comments.find((c) => !c.public),
    STEP_TIMEOUT_MS,
    'the transcript note',
  );
  line('zendesk', `internal note for the agent with the bot conversation (BRIDGE_TRANSCRIPT=note):`);
  for (const l of note.body.split('\n')) line('', `  | ${l}`);

  say('O valor deveria ser R$ 89,90');
  say('Vence amanhã, podem verificar?');
  // A photo of the bill, as WhatsApp sends it through BLiP: a media link to BLiP's media store (here a local one).
  const photo = demoPhoto();
  const uri = sandbox.media.add({ data: photo, contentType: 'image/jpeg' });
  sandbox.sendMedia(maria, {
    type: 'image/jpeg',
    uri,
    size: photo.length,
    title: 'boleto-marco.jpg',
    text: 'Foto do boleto',
  });
  line(
    'customer',
    `sends a photo: boleto-marco.jpg (${photo.length} bytes, media link ${uri.split('?')[0]}?…)`,
  );
  const byRequester = () => ticket.comments.filter((c) => c.author_id === ticket.requester_id);
  await zendesk.waitFor(
    () => byRequester().length >= 4,
    STEP_TIMEOUT_MS,
    'the customer messages to be appended',
  );
  line(
    'zendesk',
    `ticket #${ticket.id} now has ${byRequester().length} public comments by the requester, in order:`,
  );
  for (const c of byRequester()) {
    const files = (c.attachments ?? []).map((a) => `${a.file_name}, ${a.content_type}, ${a.size} bytes`);
    line('', `  - ${c.body}${files.length ? ` [attached: ${files.join('; ')}]` : ''}`);
  }
  const attached = ticket.comments.flatMap((c) => c.attachments ?? [])[0];
  if (!attached?.data.equals(photo)) throw new Error('the photo did not arrive in Zendesk as the same file');
  line('zendesk', `the agent opens ${attached.file_name}: the customer's photo, byte for byte`);

  // Who is answering: an agent takes the ticket, moves it to the billing group, and another agent there takes it.
  const heard = async (text: string) => {
    const s = await lime.waitForSent(
      (m) => m.envelope.to === maria.address && m.envelope.content === text,
      STEP_TIMEOUT_MS,
      `"${text}" to reach the customer`,
    );
    line('customer', `receives ${describeSent(s)}`);
  };
  line('agent', `Bruno takes ticket #${ticket.id} (ticket.agent_assignment_changed, ids only)`);
  await zendesk.agentAssign(ticket.id, 'Bruno Tavares');
  await heard('Bruno Tavares entrou na conversa.');
  line('agent', 'Bruno moves it to the Financeiro group (ticket.group_assignment_changed)');
  await zendesk.transfer(ticket.id, 'Financeiro');
  await heard('Transferindo você para o time Financeiro.');
  line('agent', 'Ana, in Financeiro, takes it');
  await zendesk.agentAssign(ticket.id, 'Ana Souza');
  await heard('Ana Souza entrou na conversa.');

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
  // The satisfaction survey (BRIDGE_SURVEY=bridge in this story): a select with quick replies, answered the way
  // WhatsApp answers one (a reply quoting it).
  const survey = await lime.waitForSent(
    (s) => s.envelope.to === maria.address && s.envelope.type === 'application/vnd.lime.select+json',
    STEP_TIMEOUT_MS,
    'the satisfaction survey',
  );
  const beforeSurvey = lime.sentTo(maria.address);
  const closing = beforeSurvey[beforeSurvey.indexOf(survey) - 1];
  if (closing && closing.envelope.type === 'text/plain')
    line('customer', `receives ${describeSent(closing)}`);
  line('customer', `receives ${describeSent(survey)}`);
  lime.sendFromCustomer(sandbox.bot, maria, 'application/vnd.lime.reply+json', {
    replied: { type: 'text/plain', value: '5 - Excelente' },
    inReplyTo: { id: survey.envelope.id, type: survey.envelope.type, value: survey.envelope.content },
  });
  line('customer', 'taps "5 - Excelente"');
  const redirect = await lime.waitForSent(
    (s) => s.envelope.to === maria.address && s.envelope.type === 'application/vnd.lime.redirect+json',
    STEP_TIMEOUT_MS,
    'the Redirect',
  );
  const sentToMaria = lime.sentTo(maria.address);
  const thanks = sentToMaria[sentToMaria.indexOf(redirect) - 1];
  if (thanks && thanks.envelope.type === 'text/plain') line('customer', `receives ${describeSent(thanks)}`);
  const ratingNote = zendesk.tickets()[0]?.bridgeNotes.find((n) => n.includes('/5'));
  if (ratingNote) line('zendesk', `internal note on the ticket: "${ratingNote}"`);
  const context = redirect.envelope.content as {
    address?: string;
    context: { type: string; value: Record<string, unknown> };
  };
  line(
    'bridge',
    `Redirect sent to ${context.address ?? "the router's default bot"} with ${context.context.type} ` +
      `{sequentialId: ${String(context.context.value.sequentialId)}, status: ${String(context.context.value.status)}, ` +
      `endedBy: ${String(context.context.value.endedBy)}, team: ${String(context.context.value.team)}, ` +
      `agentName: ${String(context.context.value.agentName)}, transfers: ${String(context.context.value.transfers)}, ` +
      `rating: ${String(context.context.value.rating)}, locale: ${String(context.context.value.locale)}}`,
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

/** A small stand-in photo: JPEG markers around some bytes (the bridge checks types and sizes, not pixels). */
function demoPhoto(): Buffer {
  const body = Buffer.alloc(48_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), body, Buffer.from([0xff, 0xd9])]);
}

const USAGE = `usage: npm run demo [-- --vendor <name> | --vendors <a>,<b>]
  (no option)          the detailed Zendesk story
  --vendor <name>      the whole loop with one helpdesk: ${vendorNames.join(', ')}
  --vendors <a>,<b>    two helpdesks in one bridge, customers routed by the bot's Redirect context`;

/** The demo's choice of helpdesks; exits 2 with the usage on an unknown option or vendor. */
function chosenVendors(): VendorName[] | undefined {
  let values: { vendor?: string; vendors?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { vendor: { type: 'string' }, vendors: { type: 'string' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const names = values.vendors
    ? values.vendors.split(',').map((v) => v.trim())
    : values.vendor
      ? [values.vendor]
      : [];
  const unknown = names.filter((n) => !(vendorNames as string[]).includes(n));
  if (unknown.length || names.length > 2 || (values.vendors && names.length !== 2)) {
    console.error(
      `${unknown.length ? `unknown helpdesk: ${unknown.join(', ')} (known: ${vendorNames.join(', ')})` : '--vendors takes two helpdesks'}\n${USAGE}`,
    );
    process.exit(2);
  }
  return names.length ? (names as VendorName[]) : undefined;
}

async function main(): Promise<void> {
  const vendors = chosenVendors();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', format: 'pretty' });
  const story = vendors?.join(' + ') ?? 'Zendesk';
  console.log(
    `blip-helpdesk-bridge demo: customer -> BLiP -> bridge -> ${story} -> agent -> back to the bot\n`,
  );
  let sandbox: Sandbox | undefined;
  try {
    sandbox = await startSandbox({
      logger,
      ...(vendors ? { vendors } : {}),
      // The harness turns these off for tests; the demo shows them.
      env: {
        BRIDGE_WAITING_MESSAGE: 'Você está na fila para falar com um atendente. Já vamos te atender.',
        BRIDGE_ASSIGNED_MESSAGE: '{agent} entrou na conversa.',
        BRIDGE_TRANSFERRED_MESSAGE: 'Transferindo você para o time {team}.',
        BRIDGE_TRANSCRIPT: 'note',
        BRIDGE_TRANSCRIPT_MESSAGES: '10',
        // The detailed Zendesk story shows the satisfaction survey after the close.
        ...(vendors ? {} : { BRIDGE_SURVEY: 'bridge' }),
        ...(vendors?.length === 2
          ? {
              BRIDGE_ROUTES: JSON.stringify([{ team: 'financeiro', vendor: vendors[1] }]),
              // The team "financeiro" as each helpdesk knows it (a group, a team, an assignment group).
              ...Object.assign({}, ...vendors.map((name) => testKit(name).demoEnv ?? {})),
            }
          : {}),
      },
    });
    if (vendors?.length === 2) await twoHelpdesks(sandbox, [vendors[0]!, vendors[1]!]);
    else if (vendors && vendors[0] !== 'zendesk') await oneHelpdesk(sandbox, vendors[0]!);
    else await run(sandbox);
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
