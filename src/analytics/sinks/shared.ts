import { z } from 'zod';
import type { AnalyticsEvent } from '../event';

/** An http(s) URL setting. */
export const httpUrl = () =>
  z.string().refine((v) => {
    try {
      return ['http:', 'https:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be a URL starting with http:// or https://');

/** A required secret or key: present and not blank. */
export const secret = (min = 1) =>
  z.string({ error: 'is required' }).min(min, min > 1 ? `must be at least ${min} characters` : 'is required');

/** Epoch milliseconds of an ISO time. */
export function epochMs(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? Date.now() : ms;
}

/** The user id the message-tracking tools see: the customer's id (hashed when configured), or the session. */
export function userIdOf(event: AnalyticsEvent): string {
  return event.customer?.id ?? event.sessionId ?? 'unknown';
}
