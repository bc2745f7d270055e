import { channelOf } from './channels';
import { z } from 'zod';
import type { CustomerRef } from '../core/model';

/** A LIME node or identity: `name@domain` with an optional `/instance`. */
const address = z
  .string()
  .regex(/^[^@\s/]+@[^@\s/]+(\/\S*)?$/, 'is not a LIME address (name@domain[/instance])');

/** Metadata is string -> string, but stored/forwarded WhatsApp keys can be null (and some producers send numbers). */
const metadata = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
  .transform((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v === null ? null : String(v)])))
  .optional();

export const limeMessageSchema = z.object({
  id: z.string().min(1).optional(),
  from: address,
  to: z.string().optional(),
  pp: z.string().optional(),
  type: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'is not a MIME type'),
  content: z.unknown(),
  metadata,
});
export type InboundMessage = z.infer<typeof limeMessageSchema>;

export const limeNotificationSchema = z.object({
  id: z.string().min(1),
  from: address,
  to: z.string().optional(),
  event: z.enum([
    'accepted',
    'validated',
    'authorized',
    'dispatched',
    'received',
    'consumed',
    'failed',
    'deleted',
  ]),
  reason: z.object({ code: z.number(), description: z.string().optional() }).optional(),
  metadata,
});
export type InboundNotification = z.infer<typeof limeNotificationSchema>;

/** `name@domain/instance` -> `name@domain`. */
export function identityOf(node: string): string {
  const slash = node.indexOf('/');
  return (slash === -1 ? node : node.slice(0, slash)).toLowerCase();
}

export function domainOf(identity: string): string {
  return identityOf(identity).split('@')[1] ?? '';
}

/**
 * The customer as the bridge sees them: state keyed by the FROM identity, replies TO the exact FROM,
 * and the real customer behind a router tunnel kept from `#tunnel.originator`.
 */
export function customerFromMessage(message: InboundMessage): CustomerRef {
  const meta = message.metadata ?? {};
  const originator = meta['#tunnel.originator'] ?? undefined;
  const owner = meta['#tunnel.owner'] ?? undefined;
  const key = identityOf(message.from);
  const channel = channelOf(originator ?? key).channel;
  return {
    key,
    address: message.from,
    ...(originator ? { originator: identityOf(originator) } : {}),
    ...(owner ? { owner: identityOf(owner) } : {}),
    ...(channel ? { channel } : {}),
  };
}

/** A zod error as one short line (path and message, never the value). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(envelope)'}: ${i.message}`)
    .join('; ');
}
