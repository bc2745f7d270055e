import type { ClosedBy, Handback } from '../core/model';
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
}

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
  };
  return {
    type: REDIRECT_TYPE,
    content: { ...(mainService ? { address: mainService } : {}), context: { type: TICKET_TYPE, value } },
  };
}
