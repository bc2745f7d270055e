/**
 * The admin side of the local Zendesk, for `npm run bridge -- setup zendesk` and `check`: webhooks
 * (`/api/v2/webhooks`, validated against sandbox/openapi/zendesk-webhooks.yaml), triggers
 * (`/api/v2/triggers`) and the current user (`/api/v2/users/me`), the last two validated by the emulator's own
 * zendesk-support.yaml validator (they are mounted after it).
 *
 * Gaps of the webhooks file, allowed here: its `servers` URL carries the `/api/v2` prefix (the validator is given
 * the paths with it); a webhook's `signing_secret` on create is in the schema but the docs do not say the API
 * keeps a secret given by the client: the emulator keeps it (what the bridge's setup relies on, and says so).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import yaml from 'js-yaml';

export const DEFAULT_ZENDESK_WEBHOOKS_SPEC = path.resolve(
  __dirname,
  '../../../sandbox/openapi/zendesk-webhooks.yaml',
);

export interface EmulatedWebhook {
  id: string;
  name: string;
  description?: string;
  endpoint: string;
  http_method: string;
  request_format: string;
  status: 'active' | 'inactive';
  subscriptions: string[];
  signing_secret: { algorithm: string; secret: string };
  created_at: string;
  updated_at: string;
}

export interface EmulatedTrigger {
  id: number;
  title: string;
  description?: string;
  active: boolean;
  position: number;
  conditions: { all?: unknown[]; any?: unknown[] };
  actions: Array<{ field: string; value: unknown }>;
  created_at: string;
  updated_at: string;
}

export class ZendeskAdmin {
  readonly webhooks = new Map<string, EmulatedWebhook>();
  readonly triggers = new Map<number, EmulatedTrigger>();
  readonly validating: boolean;
  private nextTrigger = 360_100_000_001;

  constructor(
    private readonly currentUser: () => Record<string, unknown>,
    private readonly specPath = DEFAULT_ZENDESK_WEBHOOKS_SPEC,
    validate = true,
  ) {
    this.validating = validate;
  }

  /** `/api/v2/webhooks…`: mount after the credentials check, before the Support API validator. */
  webhookRoutes(): Router {
    const router = express.Router();
    if (this.validating) {
      router.use(
        OpenApiValidator.middleware({
          apiSpec: webhooksSpec(this.specPath) as never, // a parsed OpenAPI 3.0 document (see webhooksSpec)
          validateRequests: { allowUnknownQueryParameters: true },
          validateResponses: false,
          validateSecurity: false,
          validateApiSpec: false,
          ignorePaths: (p: string) => !p.startsWith('/api/v2/webhooks'),
        }),
      );
    }
    router.get('/api/v2/webhooks', (req, res) => {
      const filter = req.query.filter as { name_contains?: string } | undefined;
      const nameContains = typeof filter?.name_contains === 'string' ? filter.name_contains : undefined;
      const list = [...this.webhooks.values()]
        .filter((w) => !nameContains || w.name.includes(nameContains))
        .map(publicWebhook);
      res.json({ webhooks: list, meta: { has_more: false }, links: {} });
    });
    router.post('/api/v2/webhooks', (req, res) => {
      const input = (req.body as { webhook: Partial<EmulatedWebhook> }).webhook;
      const now = new Date().toISOString();
      const webhook: EmulatedWebhook = {
        id: `01J${randomBytes(12).toString('hex').toUpperCase().slice(0, 23)}`,
        name: String(input.name),
        ...(input.description ? { description: input.description } : {}),
        endpoint: String(input.endpoint),
        http_method: String(input.http_method),
        request_format: String(input.request_format),
        status: input.status === 'inactive' ? 'inactive' : 'active',
        subscriptions: input.subscriptions ?? [],
        signing_secret: {
          algorithm: 'sha256',
          secret: input.signing_secret?.secret ?? randomBytes(32).toString('base64'),
        },
        created_at: now,
        updated_at: now,
      };
      this.webhooks.set(webhook.id, webhook);
      res.status(201).json({ webhook: publicWebhook(webhook) });
    });
    router.get('/api/v2/webhooks/:id', (req, res) => {
      const webhook = this.webhooks.get(req.params.id);
      if (!webhook) return void res.status(404).json(notFound('Webhook'));
      res.json({ webhook: publicWebhook(webhook) });
    });
    router.patch('/api/v2/webhooks/:id', (req, res) => {
      const webhook = this.webhooks.get(req.params.id);
      if (!webhook) return void res.status(404).json(notFound('Webhook'));
      const input = (req.body as { webhook?: Partial<EmulatedWebhook> }).webhook ?? {};
      for (const key of ['name', 'description', 'endpoint', 'http_method', 'request_format'] as const) {
        if (typeof input[key] === 'string') webhook[key] = input[key];
      }
      if (input.status === 'active' || input.status === 'inactive') webhook.status = input.status;
      if (Array.isArray(input.subscriptions)) webhook.subscriptions = input.subscriptions;
      webhook.updated_at = new Date().toISOString();
      res.status(204).end();
    });
    router.get('/api/v2/webhooks/:id/signing_secret', (req, res) => {
      const webhook = this.webhooks.get(req.params.id);
      if (!webhook) return void res.status(404).json(notFound('Webhook'));
      res.json({ signing_secret: webhook.signing_secret });
    });
    return router;
  }

  /** `/api/v2/triggers` and `/api/v2/users/me`: mount after the Support API validator. */
  supportRoutes(): Router {
    const router = express.Router();
    router.get('/api/v2/users/me', (_req, res) => {
      res.json({ user: this.currentUser() });
    });
    router.get('/api/v2/triggers', (_req, res) => {
      const triggers = [...this.triggers.values()];
      res.json({ triggers, count: triggers.length, next_page: null, previous_page: null });
    });
    router.get('/api/v2/triggers/search', (req, res) => {
      const query = typeof req.query.query === 'string' ? req.query.query : '';
      const triggers = [...this.triggers.values()].filter((t) => t.title.includes(query));
      res.json({ triggers, count: triggers.length, next_page: null, previous_page: null });
    });
    router.post('/api/v2/triggers', (req, res) => {
      const input = (req.body as { trigger: Partial<EmulatedTrigger> }).trigger;
      const now = new Date().toISOString();
      const trigger: EmulatedTrigger = {
        id: this.nextTrigger++,
        title: String(input.title),
        ...(input.description ? { description: input.description } : {}),
        active: input.active !== false,
        position: this.triggers.size + 1,
        conditions: input.conditions ?? {},
        actions: input.actions ?? [],
        created_at: now,
        updated_at: now,
      };
      this.triggers.set(trigger.id, trigger);
      res.status(201).json({ trigger });
    });
    router.put('/api/v2/triggers/:id', (req, res) => {
      const trigger = this.triggers.get(Number(req.params.id));
      if (!trigger) return void res.status(404).json(notFound('Trigger'));
      const input = (req.body as { trigger: Partial<EmulatedTrigger> }).trigger;
      Object.assign(trigger, {
        ...(input.title ? { title: input.title } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.active !== undefined ? { active: input.active } : {}),
        ...(input.conditions ? { conditions: input.conditions } : {}),
        ...(input.actions ? { actions: input.actions } : {}),
        updated_at: new Date().toISOString(),
      });
      res.json({ trigger });
    });
    return router;
  }
}

function publicWebhook(webhook: EmulatedWebhook): Omit<EmulatedWebhook, 'signing_secret'> {
  const { signing_secret: _secret, ...rest } = webhook;
  return rest;
}

function notFound(what: string): Record<string, unknown> {
  return { errors: [{ code: 'RecordNotFound', title: `${what} not found` }] };
}

/** The webhooks file with its `/api/v2` server prefix moved into the paths (the emulator serves them there). */
function webhooksSpec(specPath: string): Record<string, unknown> {
  const doc = yaml.load(readFileSync(specPath, 'utf8')) as {
    servers?: unknown;
    paths: Record<string, unknown>;
  };
  const paths = Object.fromEntries(Object.entries(doc.paths).map(([p, v]) => [`/api/v2${p}`, v]));
  return { ...doc, servers: [{ url: '/' }], paths };
}
