import { z } from 'zod';
import type { OpenTicketRequest } from '../adapter';

/**
 * Where each piece of the customer's data goes in a vendor: `<VENDOR>_CONTACT_FIELDS` is a comma-separated list
 * of `source:target` pairs, e.g. `extras.cpf:360012345678,email:user.contact_email`. Sources (what the bridge
 * knows about the handoff):
 *
 *   name, email, phone, city     the customer's BLiP contact (`get /contacts/{identity}`)
 *   extras.<key>                 a contact extra (`extras.cpf`)
 *   originator                   the real customer behind the tunnel (`5511…@wa.gw.msging.net`)
 *   customer                     the tunnel identity the bridge answers to
 *   team, priority               the ticket's team and priority (configuration or Redirect context)
 *   context.<key>                a value of the Redirect context's `data` (src/blip/handoff-context.ts)
 *
 * Targets are the vendor's (each adapter validates its own: a Zendesk field id, an Intercom attribute, a
 * ServiceNow column). A source without a value for this customer is left out.
 */
export interface FieldMapping {
  source: string;
  target: string;
}

const SOURCE =
  /^(name|email|phone|city|originator|customer|team|priority|extras\.[^\s:,]+|context\.[^\s:,]+)$/;

/** A `<VENDOR>_CONTACT_FIELDS` setting: `source:target` pairs; `target` must match `target`. */
export function fieldMapSetting(target: RegExp, targetHint: string) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      const pairs: FieldMapping[] = [];
      for (const raw of (value ?? '').split(',')) {
        const item = raw.trim();
        if (!item) continue;
        const at = item.indexOf(':');
        const source = at > 0 ? item.slice(0, at).trim() : '';
        const to = at > 0 ? item.slice(at + 1).trim() : '';
        if (!SOURCE.test(source) || !target.test(to)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${item}" must be source:target, the source one of name, email, phone, city, originator, customer, team, priority, extras.<key>, context.<key>, and the target ${targetHint}`,
          });
          return z.NEVER;
        }
        pairs.push({ source, target: to });
      }
      return pairs;
    });
}

/** A `<VENDOR>_GROUPS`-style setting: `name:id` pairs (team name → the vendor's id). */
export function nameMapSetting(id: RegExp, idHint: string) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      const map: Record<string, string> = {};
      for (const raw of (value ?? '').split(',')) {
        const item = raw.trim();
        if (!item) continue;
        const at = item.lastIndexOf(':');
        const name = at > 0 ? item.slice(0, at).trim().toLowerCase() : '';
        const target = at > 0 ? item.slice(at + 1).trim() : '';
        if (!name || !id.test(target)) {
          ctx.addIssue({ code: 'custom', message: `"${item}" must be name:id, the id ${idHint}` });
          return z.NEVER;
        }
        map[name] = target;
      }
      return map;
    });
}

/** The value of one source for this ticket request; undefined when the handoff has none. */
export function sourceValue(source: string, req: OpenTicketRequest): string | undefined {
  const contact = req.contact;
  const pick = (v: string | undefined): string | undefined => (v && v.trim() !== '' ? v : undefined);
  if (source.startsWith('extras.')) return pick(contact?.extras?.[source.slice('extras.'.length)]);
  if (source.startsWith('context.')) return pick(req.fields?.data?.[source.slice('context.'.length)]);
  switch (source) {
    case 'name':
      return pick(contact?.name ?? req.customer.name);
    case 'email':
      return pick(contact?.email);
    case 'phone':
      return pick(contact?.phone);
    case 'city':
      return pick(contact?.city);
    case 'originator':
      return pick(req.customer.originator ?? req.customer.key);
    case 'customer':
      return pick(req.customer.key);
    case 'team':
      return pick(req.fields?.team);
    case 'priority':
      return pick(req.fields?.priority);
    default:
      return undefined;
  }
}

/** Every mapping with a value for this request, in the configured order. */
export function mappedValues(
  mappings: FieldMapping[],
  req: OpenTicketRequest,
): Array<{ target: string; value: string }> {
  return mappings.flatMap(({ source, target }) => {
    const value = sourceValue(source, req);
    return value === undefined ? [] : [{ target, value }];
  });
}

/** The vendor id of the request's team: mapped by name (case-insensitive), or the team itself when it is an id. */
export function teamId(
  team: string | undefined,
  names: Record<string, string>,
  isId: RegExp,
): { id?: string; unmapped?: string } {
  if (!team) return {};
  const mapped = names[team.trim().toLowerCase()];
  if (mapped) return { id: mapped };
  if (isId.test(team.trim())) return { id: team.trim() };
  return { unmapped: team };
}
