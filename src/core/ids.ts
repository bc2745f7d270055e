import { createHash } from 'node:crypto';

/**
 * A UUID-shaped id derived from a string: the same input always gives the same id,
 * so a retried effect (a LIME message, a Redirect) carries the same id as the first try.
 */
export function stableId(input: string): string {
  const h = createHash('sha256').update(input).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Tags computed lately: most log calls name a customer handled a moment ago (a hash each time was 1.5% of CPU). */
const tags = new Map<string, string>();
const TAGS_KEPT = 10_000;

/** A short, non-reversible tag for a customer in logs (never the phone number at info level). */
export function logTag(customerKey: string): string {
  let tag = tags.get(customerKey);
  if (tag === undefined) {
    tag = createHash('sha256').update(customerKey).digest('hex').slice(0, 12);
    if (tags.size >= TAGS_KEPT) tags.clear();
    tags.set(customerKey, tag);
  }
  return tag;
}
