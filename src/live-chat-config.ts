import { z } from 'zod';
import { optionalUrl } from './config-fields';

/**
 * The customer's read state and the bot conversation before the handoff (issue 20, items 2 and 4). Spread into the
 * base schema; README "Read state, typing and the bot conversation" describes each key.
 */
export const liveChatConfigShape = {
  /**
   * `agent`: `received` once a customer's message is recorded, `consumed` once an agent saw it (a vendor's read
   * event, else the agent's next reply). `queued`: `consumed` as soon as it is recorded (blip-sdk's own receipts).
   */
  BRIDGE_READ_RECEIPTS: z.enum(['agent', 'queued']).default('agent'),
  /**
   * The router's HTTP authorization key (the portal's `Authorization: Key …` value, with or without `Key `): the
   * transcript is then read from the router's thread with the customer, the whole bot conversation.
   */
  BLIP_HISTORY_KEY: z
    .string()
    .transform((v) => v.trim().replace(/^key\s+/i, ''))
    .refine((v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v), 'must be the key of an Authorization header (base64)')
    .optional(),
  /** BLiP's HTTP commands endpoint (`https://<contract>.http.msging.net/commands` on a contract). */
  BLIP_HISTORY_URL: optionalUrl(['https:', 'http:']),
};

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is needed
const liveChatSchema = z.object(liveChatConfigShape);
type Parsed = z.infer<typeof liveChatSchema>;

export interface LiveChatConfig {
  readReceipts: 'agent' | 'queued';
  /** Reading the router's thread over BLiP's HTTP commands; absent: the bridge's own thread. */
  history?: { key: string; url: string };
}

export function liveChatConfigFrom(c: Parsed): LiveChatConfig {
  return {
    readReceipts: c.BRIDGE_READ_RECEIPTS,
    ...(c.BLIP_HISTORY_KEY
      ? {
          history: { key: c.BLIP_HISTORY_KEY, url: c.BLIP_HISTORY_URL ?? 'https://http.msging.net/commands' },
        }
      : {}),
  };
}
