import { attachmentLinks, conversationEventBase } from '../events';
import { stableId } from '../ids';
import type { AgentMessageEvent, Conversation } from '../model';
import { conversationLog, eventDedupeKey, type Handoff } from './context';
import type { FileFailures } from './files';
import { textsOf } from './texts';

/**
 * An agent's public reply, TO the customer's address: files re-hosted first (outside the send, so a retry of the
 * send reuses the links), then the message with a stable LIME id (a retry is the same message). A file that did not
 * reach the customer is told to the agents in a note.
 */
export async function deliverAgentMessage(
  h: Handoff,
  conversation: Conversation,
  event: AgentMessageEvent,
  failures: FileFailures,
): Promise<void> {
  const log = conversationLog(conversation);
  const { message, failed } = await h.files.filesForCustomer(
    signed(h.settings.agentSignature, event),
    event,
    eventDedupeKey(event),
    log,
    h.vendorOf(event.ticket),
    failures,
    textsOf(h, conversation).fileNotDelivered,
  );
  await h.sendToCustomer(conversation.customer, message, agentMessageId(event), log);
  h.logger.debug('agent message delivered to the customer', { ...log, eventId: event.eventId });
  if (failed.length > 0) {
    await h.noteForAgents(
      conversation,
      `${failed.length === 1 ? 'A file' : 'Files'} you sent did not reach the customer: ` +
        `${failed.map((f) => `"${f.name}" (${f.reason})`).join('; ')}. ` +
        'The customer was told; please send it another way (for example a public link).',
    );
  }
  h.events.emit('agent.message', {
    ...conversationEventBase(conversation),
    ticket: event.ticket,
    messageId: event.message.id,
    agentId: event.agent?.id,
    agentName: event.agent?.name,
    text: event.message.text,
    attachments: attachmentLinks(event.message.attachments),
    at: h.now().toISOString(),
  });
}

/** The LIME id an agent's message is sent with (stable: a retry is the same message). */
export function agentMessageId(event: AgentMessageEvent): string {
  return stableId(`agent:${eventDedupeKey(event)}`);
}

/** The agent's text with the configured signature, when there is a text and a name to sign with. */
function signed(template: string | undefined, event: AgentMessageEvent): AgentMessageEvent['message'] {
  const name = event.agent?.name?.trim();
  if (!template || !name || event.message.text.trim() === '') return event.message;
  const text = template.replace(/\{agent\}/g, () => name).replace(/\{text\}/g, () => event.message.text);
  return { ...event.message, text };
}
