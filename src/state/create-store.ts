import Keyv from 'keyv';
import { createKeyv } from '@keyv/redis';
import type { Logger } from '../core/logger';
import type { ConversationStore } from '../core/ports';
import { KeyvConversationStore } from './keyv-conversation-store';

const NAMESPACE = 'bhb';

/**
 * In memory when no Redis URL is given (one instance, state lost on restart),
 * else on Redis through @keyv/redis (shared by every instance, survives restarts).
 * Errors are thrown, never swallowed: a store that cannot answer must not look like "no conversation",
 * or the bridge would open a second ticket.
 */
export function createConversationStore(redisUrl: string | undefined, logger: Logger): ConversationStore {
  if (!redisUrl) {
    const keyv = new Keyv({ namespace: NAMESPACE, throwOnErrors: true });
    return new KeyvConversationStore(keyv);
  }
  const keyv = createKeyv(redisUrl, { namespace: NAMESPACE, throwOnErrors: true, throwOnConnectError: true });
  keyv.throwOnErrors = true;
  keyv.on('error', (err: unknown) => {
    logger.error('state store error', {
      code: 'STATE_STORE_ERROR',
      error: err instanceof Error ? err.message : String(err),
    });
  });
  return new KeyvConversationStore(keyv, () => keyv.disconnect());
}
