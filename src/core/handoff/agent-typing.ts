import type { AgentTypingEvent, Conversation } from '../model';
import type { WorkRun } from '../work/runner';
import { conversationLog, type Handoff } from './context';

/**
 * The agent is typing, or stopped: a LIME chat state to the customer. Not a message: nothing is stored, no domain
 * event is emitted (no report row, no analytics message), and its event id is never marked done (typing repeats;
 * helpdesk-event.ts skips the dedupe for it). A failed send is tried once more, then dropped: a late "typing…" is
 * worse than none.
 */
export async function agentTyping(
  h: Handoff,
  conversation: Conversation,
  event: AgentTypingEvent,
  run: WorkRun,
): Promise<void> {
  try {
    await h.channel.chatState(conversation.customer, event.state);
  } catch (err) {
    if (run.head.attempts === 0 && !run.lastAttempt) throw err;
    h.logger.debug('agent typing state not delivered; dropped', {
      ...conversationLog(conversation),
      state: event.state,
      code: 'CHAT_STATE_DROPPED',
    });
  }
}
