/**
 * Zendesk's side of the bridge, through the API (`npm run bridge -- setup zendesk`): the webhook that sends
 * ticket events to `<bridge>/webhooks/zendesk`, signed with ZENDESK_WEBHOOK_SECRET, and, in trigger mode, the two
 * triggers that fire it (shapes: test/fixtures/vendors/zendesk-trigger-*.json). Idempotent: what exists is
 * checked and corrected, what is missing is created. Needs an admin's API token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AxiosInstance, AxiosRequestConfig } from 'axios';
import { z } from 'zod';
import { errorMessage } from '../adapter';
import { toBridgeError } from '../shared/http-errors';
import { requestValidated } from '../shared/response';
import type { CheckResult, SetupStep, VendorSetup } from '../shared/setup';
import { zendeskHttp } from './api';
import type { ZendeskConfig } from './config';

export const WEBHOOK_NAME = 'blip-helpdesk-bridge';
export const TRIGGER_WEBHOOK_NAME = 'blip-helpdesk-bridge (triggers)';
/** The event types the bridge handles (src/adapters/zendesk/webhook.ts). */
export const EVENT_SUBSCRIPTIONS = [
  'zen:event-type:ticket.comment_added',
  'zen:event-type:ticket.status_changed',
  'zen:event-type:ticket.attachment_linked_to_comment',
  'zen:event-type:ticket.agent_assignment_changed',
  'zen:event-type:ticket.group_assignment_changed',
];
const TRIGGER_DESCRIPTION = 'Installed by blip-helpdesk-bridge setup. Do not edit by hand.';

export interface ZendeskSetupOptions {
  /** The bridge's webhook URL: `<public URL>/webhooks/zendesk`. */
  endpoint: string;
  /** `events` (recommended: event subscriptions) or `triggers` (a conditional webhook and two triggers). */
  mode: 'events' | 'triggers';
  /** The tag every bridge ticket carries (the first of BRIDGE_TICKET_TAGS): the triggers' condition. */
  tag: string;
}

/** Creates or checks the webhook (and, in trigger mode, the triggers). Never throws: failures are steps. */
export async function setupZendesk(
  config: ZendeskConfig,
  options: ZendeskSetupOptions,
): Promise<SetupStep[]> {
  const { http } = zendeskHttp(config);
  const steps: SetupStep[] = [];
  try {
    const name = options.mode === 'events' ? WEBHOOK_NAME : TRIGGER_WEBHOOK_NAME;
    const wanted = {
      name,
      endpoint: options.endpoint,
      http_method: 'POST',
      request_format: 'json',
      status: 'active',
      subscriptions: options.mode === 'events' ? EVENT_SUBSCRIPTIONS : ['conditional_ticket_events'],
    };
    const { webhooks } = await call(http, 'list webhooks', webhookList, {
      method: 'GET',
      url: '/api/v2/webhooks',
      params: { 'filter[name_contains]': WEBHOOK_NAME },
    });
    const existing = webhooks.find((w) => w.name === name);
    let webhookId: string;
    if (!existing) {
      const { webhook } = await call(http, 'create webhook', webhookResponse, {
        method: 'POST',
        url: '/api/v2/webhooks',
        data: {
          webhook: {
            ...wanted,
            description: 'Agent replies and closes for blip-helpdesk-bridge.',
            signing_secret: { algorithm: 'sha256', secret: config.ZENDESK_WEBHOOK_SECRET },
          },
        },
      });
      webhookId = webhook.id;
      steps.push({
        status: 'created',
        item: `webhook "${name}"`,
        detail: `${webhook.id} -> ${options.endpoint}`,
      });
    } else {
      webhookId = existing.id;
      const differs = [
        existing.endpoint !== wanted.endpoint && 'endpoint',
        existing.status !== 'active' && 'status',
        existing.http_method !== 'POST' && 'http_method',
        existing.request_format !== 'json' && 'request_format',
        !sameSet(existing.subscriptions ?? [], wanted.subscriptions) && 'subscriptions',
      ].filter((d): d is string => !!d);
      if (differs.length) {
        await call(http, 'update webhook', z.unknown(), {
          method: 'PATCH',
          url: `/api/v2/webhooks/${encodeURIComponent(existing.id)}`,
          data: { webhook: wanted },
        });
        steps.push({
          status: 'updated',
          item: `webhook "${name}"`,
          detail: `${existing.id}: ${differs.join(', ')}`,
        });
      } else {
        steps.push({
          status: 'ok',
          item: `webhook "${name}"`,
          detail: `${existing.id} -> ${options.endpoint}`,
        });
      }
    }
    steps.push(await checkSecret(http, webhookId, config.ZENDESK_WEBHOOK_SECRET));
    if (options.mode === 'triggers') steps.push(...(await setupTriggers(http, webhookId, options.tag)));
  } catch (err) {
    steps.push({ status: 'fail', item: 'zendesk api', detail: errorMessage(err) });
  }
  return steps;
}

/** GET /api/v2/users/me: the token works, and as whom. */
export async function checkZendesk(config: ZendeskConfig): Promise<CheckResult> {
  const { http, baseUrl } = zendeskHttp(config);
  try {
    const { user } = await call(http, 'get current user', meResponse, {
      method: 'GET',
      url: '/api/v2/users/me',
    });
    if (user.id === null || user.id === undefined) {
      return { ok: false, detail: `${baseUrl}: the credentials were not accepted (anonymous user)` };
    }
    return {
      ok: true,
      detail: `${baseUrl} as ${user.email ?? user.name ?? user.id} (${user.role ?? 'unknown role'})`,
    };
  } catch (err) {
    return { ok: false, detail: `${baseUrl}: ${errorMessage(err)}` };
  }
}

async function checkSecret(http: AxiosInstance, webhookId: string, configured: string): Promise<SetupStep> {
  const { signing_secret } = await call(http, 'show signing secret', secretResponse, {
    method: 'GET',
    url: `/api/v2/webhooks/${encodeURIComponent(webhookId)}/signing_secret`,
  });
  const a = Buffer.from(signing_secret.secret);
  const b = Buffer.from(configured);
  if (a.length === b.length && timingSafeEqual(a, b)) {
    return { status: 'ok', item: 'signing secret', detail: 'matches ZENDESK_WEBHOOK_SECRET' };
  }
  return {
    status: 'fail',
    item: 'signing secret',
    detail:
      'differs from ZENDESK_WEBHOOK_SECRET: copy the webhook\'s secret (Admin Center > Webhooks > the webhook > "Reveal secret") into ZENDESK_WEBHOOK_SECRET, or delete the webhook and run setup again',
  };
}

async function setupTriggers(http: AxiosInstance, webhookId: string, tag: string): Promise<SetupStep[]> {
  const { triggers } = await call(http, 'search triggers', triggerList, {
    method: 'GET',
    url: '/api/v2/triggers/search',
    params: { query: WEBHOOK_NAME },
  });
  const steps: SetupStep[] = [];
  for (const wanted of bridgeTriggers(webhookId, tag)) {
    const existing = triggers.find((t) => t.title === wanted.title);
    if (!existing) {
      const { trigger } = await call(http, 'create trigger', triggerResponse, {
        method: 'POST',
        url: '/api/v2/triggers',
        data: { trigger: wanted },
      });
      steps.push({ status: 'created', item: `trigger "${wanted.title}"`, detail: String(trigger.id) });
      continue;
    }
    const same =
      existing.active === true &&
      JSON.stringify(existing.conditions) === JSON.stringify(wanted.conditions) &&
      JSON.stringify(existing.actions) === JSON.stringify(wanted.actions);
    if (same) {
      steps.push({ status: 'ok', item: `trigger "${wanted.title}"`, detail: String(existing.id) });
      continue;
    }
    await call(http, 'update trigger', triggerResponse, {
      method: 'PUT',
      url: `/api/v2/triggers/${existing.id}`,
      data: { trigger: wanted },
    });
    steps.push({ status: 'updated', item: `trigger "${wanted.title}"`, detail: String(existing.id) });
  }
  return steps;
}

/**
 * The triggers of the trigger path, as in test/fixtures/vendors/zendesk-trigger-create-*.json: the public agent
 * comment, the solve, and (ours) an assignee change and a group change on an update, which name the agent and the
 * group through placeholders.
 */
export function bridgeTriggers(
  webhookId: string,
  tag: string,
): Array<{ title: string; description: string; active: boolean; conditions: unknown; actions: unknown }> {
  const tagged = { field: 'current_tags', operator: 'includes', value: tag };
  return [
    {
      title: 'blip-helpdesk-bridge: public agent comment',
      description: TRIGGER_DESCRIPTION,
      active: true,
      conditions: {
        all: [
          { field: 'update_type', operator: 'is', value: 'Change' },
          { field: 'comment_is_public', operator: 'is', value: 'requester_can_see_comment' },
          { field: 'role', operator: 'is_not', value: 'end_user' },
          { field: 'current_via_id', operator: 'is_not', value: '5' },
          tagged,
        ],
        any: [],
      },
      actions: [{ field: 'notification_webhook', value: [webhookId, triggerBody('agent_public_comment')] }],
    },
    {
      title: 'blip-helpdesk-bridge: ticket solved',
      description: TRIGGER_DESCRIPTION,
      active: true,
      conditions: { all: [{ field: 'status', operator: 'value', value: 'solved' }, tagged], any: [] },
      actions: [{ field: 'notification_webhook', value: [webhookId, triggerBody('ticket_solved')] }],
    },
    {
      title: 'blip-helpdesk-bridge: agent assigned',
      description: TRIGGER_DESCRIPTION,
      active: true,
      conditions: {
        all: [
          { field: 'update_type', operator: 'is', value: 'Change' },
          { field: 'assignee_id', operator: 'changed' },
          tagged,
        ],
        any: [],
      },
      actions: [{ field: 'notification_webhook', value: [webhookId, assignmentBody('agent_assigned')] }],
    },
    {
      title: 'blip-helpdesk-bridge: group changed',
      description: TRIGGER_DESCRIPTION,
      active: true,
      conditions: {
        all: [
          { field: 'update_type', operator: 'is', value: 'Change' },
          { field: 'group_id', operator: 'changed' },
          tagged,
        ],
        any: [],
      },
      actions: [{ field: 'notification_webhook', value: [webhookId, assignmentBody('group_changed')] }],
    },
  ];
}

/** The body of the assignment triggers: the ticket, and the assignee or the group by placeholders (ids and names). */
function assignmentBody(event: 'agent_assigned' | 'group_changed'): string {
  const who =
    event === 'agent_assigned'
      ? [
          '  "assignee": {',
          '    "id": "{{ticket.assignee.id}}",',
          '    "name": "{{ticket.assignee.name}}"',
          '  }',
        ]
      : ['  "group": {', '    "name": "{{ticket.group.name}}"', '  }'];
  return [
    '{',
    `  "bridge_event": "${event}",`,
    '  "ticket": {',
    '    "id": "{{ticket.id}}",',
    '    "external_id": "{{ticket.external_id}}",',
    '    "updated_at": "{{ticket.updated_at_with_timestamp}}",',
    '    "requester_id": "{{ticket.requester.id}}"',
    '  },',
    ...who,
    '}',
  ].join('\n');
}

/** The JSON body template the bridge's trigger parser reads (src/adapters/zendesk/webhook.ts, `bridge_event`). */
function triggerBody(event: 'agent_public_comment' | 'ticket_solved'): string {
  return [
    '{',
    `  "bridge_event": "${event}",`,
    '  "ticket": {',
    '    "id": "{{ticket.id}}",',
    '    "external_id": "{{ticket.external_id}}",',
    '    "status": "{{ticket.status}}",',
    '    "updated_at": "{{ticket.updated_at_with_timestamp}}",',
    '    "requester_id": "{{ticket.requester.id}}",',
    '    "requester_external_id": "{{ticket.requester.external_id}}"',
    '  },',
    '  "current_user": {',
    '    "id": "{{current_user.id}}",',
    '    "name": "{{current_user.name}}",',
    '    "role": "{{current_user.role}}",',
    '    "external_id": "{{current_user.external_id}}"',
    '  },',
    '  "comment": {',
    '    "id": "{{ticket.public_comments[0].id}}",',
    '    "is_public": "{{ticket.latest_public_comment.is_public}}",',
    '    "author_id": "{{ticket.latest_public_comment.author.id}}",',
    '    "author_name": "{{ticket.latest_public_comment.author.name}}",',
    '    "author_role": "{{ticket.latest_public_comment.author.role}}",',
    '    "value": "{{ticket.latest_public_comment.value}}",',
    '    "attachments": [{% for attachment in ticket.latest_public_comment.attachments %}{"filename": "{{attachment.filename}}", "url": "{{attachment.url}}"}{% unless forloop.last %},{% endunless %}{% endfor %}]',
    '  }',
    '}',
  ].join('\n');
}

function call<S extends z.ZodType>(
  http: AxiosInstance,
  what: string,
  schema: S,
  config: AxiosRequestConfig,
): Promise<z.infer<S>> {
  return requestValidated(http, 'zendesk', what, schema, config, (err) =>
    toBridgeError(err, 'zendesk', what),
  );
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

const webhook = z.looseObject({
  id: z.string(),
  name: z.string(),
  endpoint: z.string().nullish(),
  status: z.string().nullish(),
  http_method: z.string().nullish(),
  request_format: z.string().nullish(),
  subscriptions: z.array(z.string()).nullish(),
});
const webhookList = z.looseObject({ webhooks: z.array(webhook) });
const webhookResponse = z.looseObject({ webhook });
const secretResponse = z.looseObject({ signing_secret: z.looseObject({ secret: z.string() }) });
const trigger = z.looseObject({
  id: z.union([z.number(), z.string()]),
  title: z.string(),
  active: z.boolean().nullish(),
  conditions: z.unknown(),
  actions: z.unknown(),
});
const triggerList = z.looseObject({ triggers: z.array(trigger) });
const triggerResponse = z.looseObject({ trigger });
const meResponse = z.looseObject({
  user: z.looseObject({
    id: z.union([z.number(), z.string()]).nullish(),
    name: z.string().nullish(),
    email: z.string().nullish(),
    role: z.string().nullish(),
  }),
});

/** `setup zendesk [--triggers]`: the webhook (event subscriptions), or with --triggers the trigger path. */
export const zendeskSetup: VendorSetup<ZendeskConfig> = {
  usage: [
    'setup zendesk [--url <bridge URL>] [--triggers]',
    'create or check the webhook (and triggers) by API',
  ],
  run: (settings, { url, flags, env }) =>
    setupZendesk(settings, {
      endpoint: `${url}/webhooks/zendesk`,
      mode: flags.has('--triggers') ? 'triggers' : 'events',
      tag: (env.BRIDGE_TICKET_TAGS ?? 'blip_bridge').split(',')[0]?.trim() || 'blip_bridge',
    }),
  check: (settings) => checkZendesk(settings),
};
