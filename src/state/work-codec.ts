import { z } from 'zod';
import type { DeadLetter, QueuedWork, WorkItem } from '../core/work/queue';

// What is read back from storage is checked at the top level: the bridge wrote it, but a corrupt entry or one
// from an incompatible version must become a dead letter, not a crash that blocks the lane.
const queuedWorkSchema = z.object({
  id: z.string().min(1),
  lane: z.string().min(1),
  item: z.looseObject({
    kind: z.enum(['customer-message', 'helpdesk-event', 'delivery-failure', 'timer', 'force-close']),
  }),
  attempts: z.number().int().min(0),
  enqueuedAt: z.string(),
  lastError: z.object({ code: z.string(), message: z.string() }).optional(),
});

const deadLetterSchema = z.object({
  id: z.string().min(1),
  work: queuedWorkSchema,
  code: z.string(),
  reason: z.string(),
  at: z.string(),
});

export type Decoded = QueuedWork | { unreadable: string; id: string };

/** Stored form of a queue entry: `<id> <json>`, so a Lua script can check the head's id without decoding JSON. */
export function encodeEntry(work: QueuedWork): string {
  const { redelivered: _computedOnPeek, ...stored } = work;
  return `${work.id} ${JSON.stringify(stored)}`;
}

export function decodeEntry(entry: string): Decoded {
  const space = entry.indexOf(' ');
  const id = space > 0 ? entry.slice(0, space) : entry;
  try {
    const parsed = queuedWorkSchema.safeParse(JSON.parse(entry.slice(space + 1)));
    if (!parsed.success) return { id, unreadable: parsed.error.issues.map((i) => i.message).join('; ') };
    // The item's inner shape is the bridge's own; the top level was checked above.
    return { ...parsed.data, item: parsed.data.item as unknown as WorkItem };
  } catch (err) {
    return { id, unreadable: err instanceof Error ? err.message : String(err) };
  }
}

export function decodeDeadLetter(json: string): DeadLetter | undefined {
  try {
    const parsed = deadLetterSchema.safeParse(JSON.parse(json));
    if (!parsed.success) return undefined;
    return parsed.data as unknown as DeadLetter;
  } catch {
    return undefined;
  }
}
