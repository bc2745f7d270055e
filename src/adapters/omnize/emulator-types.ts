/**
 * The Omnize emulator's data (test side): its options and the interactions it keeps, as emulator.ts and the tests
 * read them.
 */
import type { z } from 'zod';
import type { FileView } from '../../../sandbox/vendor-emulator';
import type { externalHistoryDocument, startInteractionBody } from './emulator-api';

export interface OmnizeEmulatorOptions {
  port?: number;
  /** The ClientSDK token the API takes. */
  token: string;
  /** The token of the webhook URL registered at Omnize (`/webhooks/omnize/<token>`). */
  webhookToken: string;
  /** Departments of the account (default: 1 Atendimento, 2 Financeiro). */
  departments?: Array<{ id: number; name: string }>;
}

export interface OmnizeMessage {
  hash: string;
  from: 'customer' | 'agent';
  content: string;
  type: string;
  url?: string;
  file?: FileView;
}

export interface OmnizeInteraction {
  hash: string;
  request: z.infer<typeof startInteractionBody>;
  state: 'queued' | 'accepted' | 'finished';
  messages: OmnizeMessage[];
  /** The external history Omnize read at `external_history`, when it could. */
  history?: z.infer<typeof externalHistoryDocument>;
  historyError?: string;
  agent?: { id: number; name: string };
  /** What the agent's screen shows of the customer: typing or not (the ClientApi's `typing` / `cleared`). */
  clientTyping?: 'typing' | 'cleared';
  /** Every client typing notification received, in order. */
  clientTypingLog: Array<'typing' | 'cleared'>;
}
