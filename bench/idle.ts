/**
 * Scenario 3, idle scale: open conversations written into Redis in the bridge's own format (the real
 * KeyvConversationStore, the same two saves a handoff makes: `opening`, then `open` with its ticket), their Redis
 * memory measured with `MEMORY USAGE` on a sample and with INFO's `used_memory`, and a fresh bridge process started
 * at each size to show its RSS does not depend on how many conversations Redis holds.
 */
import { createHash, randomUUID } from 'node:crypto';
import { silentLogger } from '../src/core/logger';
import type { Conversation } from '../src/core/model';
import { createState } from '../src/state/create-store';
import { type LoadResult, runLoad } from './load';
import type { RedisProcess } from './processes';
import { round } from './stats';

export interface IdleSize {
  conversations: number;
  /** Keys in Redis (all of the bridge's). */
  keys: number;
  /** INFO memory `used_memory` (bytes). */
  usedMemoryBytes: number;
  /** The bridge process: RSS after start-up (after a full GC), at the end of the touch traffic (after GC), peak. */
  bridgeRssStartBytes: number;
  bridgeRssEndBytes: number;
  bridgePeakRssBytes: number;
  bridgeHeapEndBytes: number;
  touch: Pick<LoadResult, 'arrived' | 'sent' | 'repliesArrived' | 'repliesSent' | 'incomplete'>;
}

export interface IdleResult {
  sizes: IdleSize[];
  /** Mean `MEMORY USAGE` per conversation (its `conv:`, `ticket:` and `session:` keys), over `sampled`. */
  bytesPerConversation: number;
  bytesPerKey: { conv: number; ticket: number; session: number };
  sampled: number;
  /** (used_memory at the largest size − at 0) / conversations: includes Redis' per-key overhead. */
  usedMemoryPerConversation: number;
  /** A stored conversation, as JSON, for the record. */
  example: string;
}

/** A conversation as a handoff leaves it once the agent has answered: every optional field a real one carries. */
export function idleConversation(n: number): Conversation {
  const h = createHash('sha256').update(`idle ${n}`).digest('hex');
  const tunnel = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}@tunnel.msging.net`;
  const at = new Date(Date.UTC(2026, 10, 25, 12, 0, 0) + n * 1000).toISOString();
  return {
    sessionId: randomUUID(),
    customer: {
      key: tunnel,
      address: tunnel,
      originator: `55${String(21_900_000_000 + n)}@wa.gw.msging.net`,
      owner: 'acmerouter@msging.net',
      name: 'Maria Aparecida Souza',
    },
    vendor: 'zendesk',
    status: 'open',
    ticket: { vendor: 'zendesk', id: String(10_000_000 + n), requesterId: String(30_764_700_000_000 + n) },
    openedAt: at,
    agent: { id: '30764510028417', name: 'Ana Souza' },
    tags: ['blip_bridge'],
    firstAgentReplyAt: at,
  };
}

export async function runIdle(options: {
  redis: RedisProcess;
  sizes: number[];
  touchCustomers: number;
  textLength: number;
  stallTimeoutMs: number;
  logFile: (size: number) => string;
  say: (line: string) => void;
}): Promise<IdleResult> {
  const { redis } = options;
  const state = createState(redis.url, silentLogger);
  const client = await state.redis!();
  const sizes: IdleSize[] = [];
  let written = 0;
  try {
    await client.flushAll();
    for (const [index, size] of [...options.sizes].sort((a, b) => a - b).entries()) {
      if (size > written) {
        const started = Date.now();
        await write(written, size, async (n) => {
          const conversation = idleConversation(n);
          const { ticket: _ticket, agent: _agent, firstAgentReplyAt: _first, ...opening } = conversation;
          await state.store.save({ ...opening, status: 'opening' });
          await state.store.save(conversation);
        });
        options.say(
          `  wrote ${size - written} conversations in ${round((Date.now() - started) / 1000, 1)} s`,
        );
        written = size;
      }
      const usedMemoryBytes = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
      const keys = await client.dbSize();
      // A fresh bridge at this size: its RSS after start-up, then while customers talk through it.
      const touch = await runLoad({
        label: `idle ${size}`,
        sut: 'bridge',
        redis,
        customers: options.touchCustomers,
        messages: 3,
        replies: 'perMessage',
        textLength: options.textLength,
        validate: false,
        bridgeRequestsPerMinute: 1_000_000,
        warmupCustomers: 0,
        stallTimeoutMs: options.stallTimeoutMs,
        logFile: options.logFile(size),
        say: options.say,
        // New customers and tickets at each size: the previous sizes' ones are still open in Redis.
        customerBase: (index + 1) * 20_000_000,
        firstTicketId: 48_213 + (index + 1) * 1_000_000,
        firstId: 30_764_600_000_000 + (index + 1) * 1_000_000_000,
      });
      sizes.push({
        conversations: size,
        keys,
        usedMemoryBytes,
        bridgeRssStartBytes: touch.startRssAfterGcBytes,
        bridgeRssEndBytes: touch.endRssAfterGcBytes,
        bridgePeakRssBytes: touch.peakRssBytes,
        bridgeHeapEndBytes: touch.endHeapAfterGcBytes,
        touch: {
          sent: touch.sent,
          arrived: touch.arrived,
          repliesSent: touch.repliesSent,
          repliesArrived: touch.repliesArrived,
          ...(touch.incomplete ? { incomplete: touch.incomplete } : {}),
        },
      });
    }

    // MEMORY USAGE (exact: SAMPLES 0) of a sample of the idle conversations' keys.
    const sample = Math.min(written, 1_000);
    const per = { conv: 0, ticket: 0, session: 0 };
    let example = '';
    for (let i = 0; i < sample; i++) {
      const n = Math.floor((i * written) / sample);
      const conversation = idleConversation(n);
      const convKey = `bhb::conv:${conversation.customer.key}`;
      const raw = await client.get(convKey);
      if (!raw) throw new Error(`idle conversation ${n} not found at ${convKey}`);
      if (i === 0) example = raw;
      const sessionId = (JSON.parse(raw) as { value: Conversation }).value.sessionId;
      per.conv += (await client.memoryUsage(convKey, { SAMPLES: 0 })) ?? 0;
      per.ticket += (await client.memoryUsage(`bhb::ticket:zendesk:${10_000_000 + n}`, { SAMPLES: 0 })) ?? 0;
      per.session += (await client.memoryUsage(`bhb::session:${sessionId}`, { SAMPLES: 0 })) ?? 0;
    }
    const bytesPerKey = {
      conv: round(per.conv / Math.max(1, sample), 0),
      ticket: round(per.ticket / Math.max(1, sample), 0),
      session: round(per.session / Math.max(1, sample), 0),
    };
    const smallest = sizes[0];
    const largest = sizes.at(-1);
    return {
      sizes,
      bytesPerConversation: bytesPerKey.conv + bytesPerKey.ticket + bytesPerKey.session,
      bytesPerKey,
      sampled: sample,
      usedMemoryPerConversation:
        smallest && largest && largest.conversations > smallest.conversations
          ? round(
              (largest.usedMemoryBytes - smallest.usedMemoryBytes) /
                (largest.conversations - smallest.conversations),
              0,
            )
          : NaN,
      example,
    };
  } finally {
    await state.store.close().catch(() => {});
  }
}

/** Runs `one(n)` for n in [from, to), a few hundred at a time. */
async function write(from: number, to: number, one: (n: number) => Promise<void>): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) await one(next++);
  };
  await Promise.all(Array.from({ length: 256 }, worker));
}
