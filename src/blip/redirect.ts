import type { ClosedBy, Handback, SurveyOutcome, TicketPriority } from '../core/model';
import type { LimeContent } from './content';

export const REDIRECT_TYPE = 'application/vnd.lime.redirect+json';
export const TICKET_TYPE = 'application/vnd.iris.ticket+json';

/** BLiP Desk's ticket statuses, so a main bot written for Desk reads ours unchanged. */
const deskStatus: Record<ClosedBy, string> = {
  agent: 'ClosedAttendant',
  customer: 'ClosedClient',
  expired: 'ClosedClientInactivity',
  out_of_hours: 'ClosedAttendant',
};

export interface IrisTicket {
  id: string;
  sequentialId?: number;
  ownerIdentity: string;
  customerIdentity: string;
  customerDomain?: string;
  agentIdentity?: string;
  status: string;
  closed: true;
  /** Who closed it, as an identity, like Desk (the agent, the customer's tunnel identity, or this bot). */
  closedBy: string;
  /** Why the attendance ended, for the main bot's flow (survey, retry, out-of-hours message). */
  endedBy: ClosedBy;
  closeReason?: string;
  provider: string;
  externalId: string;
  storageDate: string;
  openDate: string;
  closeDate: string;
  tags: string[];
  unreadMessages: number;
  /** The team the ticket ended in (after any transfer), by name when the helpdesk named it. */
  team?: string;
  /** Desk's number (0 normal, 1 high, 2 urgent; low is 0 too), and the bridge's own word for it. */
  priority?: number;
  priorityName?: TicketPriority;
  /** When the first agent reply reached the customer. */
  firstResponseDate?: string;
  /** When an agent was first assigned. */
  firstAssignmentDate?: string;
  /** The last agent's display name, when the helpdesk said it. */
  agentName?: string;
  /** How many times the ticket moved to another team. */
  transfers?: number;
  /** Desk's satisfaction rating: 1–5 when the bridge's survey got one, 0 when none (as Desk sends it). */
  rating: number;
  /**
   * How the bridge's survey ended (`answered`, `unanswered`, `invalid`, `interrupted`), or `main-bot`: the bridge
   * asked nothing (`BRIDGE_SURVEY=main-bot`) and the main bot should run its own survey now. Absent: no survey.
   */
  survey?: SurveyOutcome;
  /** The customer's language in this attendance (`pt-BR`, `en`, `es`), when one was chosen. */
  locale?: string;
}

const deskPriority: Record<TicketPriority, number> = { low: 0, normal: 0, high: 1, urgent: 2 };

/**
 * The hand-back: a Redirect TO the customer's tunnel address. Without `address` the router sends the customer to
 * its default (main) bot; `context` carries the closed ticket, shaped like BLiP Desk's, and reaches the main bot
 * as if the customer had sent it.
 */
export function buildRedirect(handback: Handback, botIdentity: string, mainService?: string): LimeContent {
  const { conversation } = handback;
  const ticket = conversation.ticket;
  const visible = ticket?.number ?? ticket?.id ?? '';
  const sequential = /^\d+$/.test(visible) ? Number(visible) : undefined;
  const agent = conversation.agent;
  const agentIdentity = agent ? `${encodeURIComponent(agent.id)}@${conversation.vendor}.helpdesk` : undefined;
  const closer: Record<ClosedBy, string> = {
    agent: agentIdentity ?? botIdentity,
    customer: conversation.customer.key,
    expired: botIdentity,
    out_of_hours: botIdentity,
  };
  const value: IrisTicket = {
    id: conversation.sessionId,
    ...(sequential !== undefined && Number.isSafeInteger(sequential) ? { sequentialId: sequential } : {}),
    ownerIdentity: botIdentity,
    customerIdentity: conversation.customer.key,
    ...(conversation.customer.originator
      ? { customerDomain: conversation.customer.originator.split('@')[1] }
      : {}),
    ...(agentIdentity ? { agentIdentity } : {}),
    status: deskStatus[handback.closedBy],
    closed: true,
    closedBy: closer[handback.closedBy],
    endedBy: handback.closedBy,
    ...(handback.reason ? { closeReason: handback.reason } : {}),
    provider: conversation.vendor,
    externalId: ticket?.id ?? '',
    storageDate: conversation.openedAt,
    openDate: conversation.openedAt,
    closeDate: handback.closedAt,
    tags: conversation.tags,
    unreadMessages: 0,
    ...(conversation.team ? { team: conversation.team } : {}),
    ...(conversation.priority
      ? { priority: deskPriority[conversation.priority], priorityName: conversation.priority }
      : {}),
    ...(conversation.firstAgentReplyAt ? { firstResponseDate: conversation.firstAgentReplyAt } : {}),
    ...(conversation.firstAssignedAt ? { firstAssignmentDate: conversation.firstAssignedAt } : {}),
    ...(agent?.name ? { agentName: agent.name } : {}),
    transfers: conversation.transfers ?? 0,
    rating: handback.rating ?? 0,
    ...(handback.survey ? { survey: handback.survey } : {}),
    ...(conversation.locale ? { locale: conversation.locale } : {}),
  };
  return {
    type: REDIRECT_TYPE,
    content: { ...(mainService ? { address: mainService } : {}), context: { type: TICKET_TYPE, value } },
  };
}
