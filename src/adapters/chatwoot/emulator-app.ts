/**
 * The emulated Chatwoot's HTTP side (test side only): the application API routes the adapter calls, checked against
 * the OpenAPI file (sandbox/openapi/chatwoot-openapi-3.0.json, relaxed where it lags the source: `chatwootSpec`),
 * behind the token check and the injected faults; and the Active Storage links agents' files are served at.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { markFault, recordRequests, slowCall } from '../../../sandbox/emulator-kit';
import type { ChatwootEmulator } from './emulator';
import { contactJson, conversationWebhookData, messagePushData } from './emulator-payloads';

export const DEFAULT_CHATWOOT_SPEC = path.resolve(
  __dirname,
  '../../../sandbox/openapi/chatwoot-openapi-3.0.json',
);

const A = '/api/v1/accounts/:account';

export function buildChatwootApp(emulator: ChatwootEmulator): express.Express {
  const app = express();
  app.use(express.json({ limit: '50mb' }));
  app.use(express.raw({ type: 'multipart/form-data', limit: '50mb' }));
  app.use(recordRequests(emulator.requests, (req) => !req.path.startsWith('/rails/')));
  // Active Storage's signed links: public, no token. `blobs/redirect/<key>/<name>` (an attachment's `data_url`)
  // answers 302 to the storage service's URL, here the disk service's (`disk/<key>/<name>`), which serves the bytes.
  app.get('/rails/active_storage/blobs/redirect/:key/:name', (req, res) => {
    if (!emulator.fileByKey(req.params.key)) return void res.status(404).end();
    res.redirect(302, `/rails/active_storage/disk/${req.params.key}/${encodeURIComponent(req.params.name)}`);
  });
  app.get('/rails/active_storage/disk/:key/:name', (req, res) => {
    const file = emulator.fileByKey(req.params.key);
    if (!file) return void res.status(404).end();
    res.status(200).type(file.mimeType).send(file.data);
  });
  // The public client API (`/public/api/v1/inboxes/...`, routes.rb's `namespace :public`): no token, the inbox
  // identifier is the key; `find_by!` answers 404 for an unknown inbox, contact or conversation.
  const P = '/public/api/v1/inboxes/:inbox/contacts/:contact/conversations/:id';
  const publicConversation = (req: Request, res: Response) => {
    const params = req.params as Record<string, string>;
    const found = emulator.publicConversation(params.inbox!, params.contact!, params.id!);
    if (!found) res.status(404).json({ error: 'Resource could not be found' });
    return found;
  };
  app.post(`${P}/toggle_typing`, (req, res) => {
    const conversation = publicConversation(req, res);
    if (!conversation) return;
    emulator.contactToggleTyping(
      conversation,
      (req.body as { typing_status?: string } | undefined)?.typing_status,
    );
    res.status(200).end();
  });
  app.post(`${P}/update_last_seen`, (req, res) => {
    const conversation = publicConversation(req, res);
    if (!conversation) return;
    emulator.contactUpdateLastSeen(conversation);
    res.status(200).end();
  });
  app.use((req, res, next) => {
    if (req.header('api_access_token') !== emulator.accessToken) {
      return void res.status(401).json({ errors: ['You need to sign in or sign up before continuing.'] });
    }
    if (
      req.path.startsWith('/api/v1/accounts/') &&
      !req.path.startsWith(`/api/v1/accounts/${emulator.account.id}/`)
    ) {
      return void res.status(401).json({ error: 'You are not authorized to access this account' });
    }
    const fault = emulator.faults.take();
    if (fault) {
      markFault(res, String(fault.status));
      return void res
        .status(fault.status)
        .set(fault.headers)
        .json({ error: `emulated HTTP ${fault.status}` });
    }
    const slow = emulator.faults.takeSlow();
    if (slow) return slowCall(slow, res, next);
    next();
  });
  app.use(async (req, res, next) => {
    // Multipart bodies as the validator and the routes read them: fields in req.body, files in res.locals.files.
    if (!Buffer.isBuffer(req.body) || !req.is('multipart/form-data')) return next();
    const form = await new Response(req.body, {
      headers: { 'content-type': req.header('content-type')! },
    }).formData();
    const fields: Record<string, string> = {};
    const files: UploadedFile[] = [];
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') fields[key] = value;
      else
        files.push({
          fieldname: key,
          originalname: value.name,
          mimetype: value.type,
          buffer: Buffer.from(await value.arrayBuffer()),
        });
    }
    req.body = fields;
    res.locals.files = files;
    next();
  });
  app.use(
    OpenApiValidator.middleware({
      apiSpec: chatwootSpec(emulator.specPath) as never, // a parsed OpenAPI 3.0 document (see chatwootSpec)
      validateRequests: { allowUnknownQueryParameters: true },
      validateResponses: false,
      validateSecurity: false,
      validateApiSpec: false,
      ignorePaths: /^\/rails\//,
      fileUploader: false,
    }),
  );

  app.get('/api/v1/profile', (_req, res) => {
    const me = emulator.bridgeUser;
    res.json({ id: me.id, name: me.name, email: me.email, available_name: me.name, role: 'agent' });
  });

  app.get(`${A}/inboxes/:id`, (req, res) => {
    if (Number(req.params.id) !== emulator.inbox.id)
      return void res.status(404).json({ error: 'Resource could not be found' });
    res.json({
      id: emulator.inbox.id,
      name: emulator.inbox.name,
      channel_type: 'Channel::Api',
      webhook_url: emulator.webhookTarget ?? '',
      inbox_identifier: emulator.inboxIdentifier,
    });
  });

  app.get(`${A}/contacts/search`, (req, res) => {
    const q = String(req.query.q ?? '').toLowerCase();
    const found = [...emulator.contacts.values()].filter((c) =>
      [c.name, c.email, c.phone_number, c.identifier].some((v) => v?.toLowerCase().includes(q)),
    );
    res.json({ meta: { count: found.length, current_page: 1 }, payload: found.map(contactJson) });
  });

  app.post(`${A}/contacts`, (req, res) => {
    const result = emulator.createContact(req.body as ContactInput);
    if ('error' in result)
      return void res.status(422).json({ message: result.error, attributes: [result.attribute] });
    res.json({
      payload: {
        contact: contactJson(result.contact),
        contact_inbox: {
          inbox: { id: emulator.inbox.id, name: emulator.inbox.name },
          source_id: result.sourceId,
        },
      },
    });
  });

  app.get(`${A}/contacts/:id/conversations`, (req, res) => {
    const list = [...emulator.conversations.values()].filter((c) => c.contact.id === Number(req.params.id));
    res.json({ payload: list.map((c) => conversationWebhookData(c, emulator.account)) });
  });

  // contacts_controller#show (after `contacts/search`, which the `:id` pattern would take).
  app.get(`${A}/contacts/:id`, (req, res) => {
    const contact = emulator.contacts.get(Number(req.params.id));
    if (!contact) return void res.status(404).json({ error: 'Resource could not be found' });
    res.json({ payload: contactJson(contact) });
  });

  app.post(`${A}/conversations`, (req, res) => {
    const result = emulator.createConversation(req.body as ConversationInput);
    if ('error' in result) return void res.status(result.status).json({ error: result.error });
    res.json(conversationWebhookData(result.conversation, emulator.account));
  });

  app.get(`${A}/conversations/:id/messages`, (req, res) => {
    const conversation = emulator.conversations.get(Number(req.params.id));
    if (!conversation) return void res.status(404).json({ error: 'Resource could not be found' });
    res.json({
      meta: { contact: contactJson(conversation.contact), assignee: null, labels: [] },
      payload: conversation.messages.map((m) => messagePushData(m, conversation, emulator.account)),
    });
  });

  app.post(`${A}/conversations/:id/messages`, (req, res) => {
    const conversation = emulator.conversations.get(Number(req.params.id));
    if (!conversation) return void res.status(404).json({ error: 'Resource could not be found' });
    const files = (res.locals.files as UploadedFile[] | undefined) ?? [];
    const result = emulator.apiMessage(conversation, req.body as MessageInput, files);
    if ('error' in result) return void res.status(422).json({ error: result.error });
    res.json(messagePushData(result.message, conversation, emulator.account));
  });

  app.post(`${A}/conversations/:id/toggle_status`, (req, res) => {
    const conversation = emulator.conversations.get(Number(req.params.id));
    if (!conversation) return void res.status(404).json({ error: 'Resource could not be found' });
    const status =
      (req.body as { status?: 'open' | 'resolved' | 'pending' }).status ??
      (conversation.status === 'open' ? 'resolved' : 'open');
    emulator.apiSetStatus(conversation, status);
    res.json({
      meta: {},
      payload: { success: true, current_status: status, conversation_id: conversation.id },
    });
  });

  app.get(`${A}/agents`, (_req, res) => {
    res.json(
      emulator.users.map((u) => ({
        id: u.id,
        name: u.name,
        available_name: u.name,
        email: u.email,
        role: 'agent',
        confirmed: true,
      })),
    );
  });

  app.get(`${A}/teams/:id`, (req, res) => {
    const team = [...emulator.teams.values()].find((t) => t.id === Number(req.params.id));
    if (!team) return void res.status(404).json({ error: 'Resource could not be found' });
    res.json({
      id: team.id,
      name: team.name,
      description: '',
      allow_auto_assign: true,
      account_id: emulator.account.id,
      is_member: false,
    });
  });

  app.use(
    (
      err: { status?: number; message?: string },
      _req: Request,
      res: Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ error: err.message ?? 'error' });
    },
  );
  return app;
}

export interface UploadedFile {
  fieldname: string;
  originalname: string;
  mimetype: string;
  buffer: Buffer;
}

export interface ContactInput {
  inbox_id?: number | string;
  name?: string;
  email?: string;
  phone_number?: string;
  identifier?: string;
  custom_attributes?: Record<string, unknown>;
}

export interface ConversationInput {
  source_id?: string;
  inbox_id?: string | number;
  contact_id?: string | number;
  status?: 'open' | 'resolved' | 'pending';
  team_id?: string | number;
  assignee_id?: string | number;
  custom_attributes?: Record<string, unknown>;
  message?: MessageInput;
}

export interface MessageInput {
  content?: string;
  message_type?: string;
  private?: boolean | string;
}

let parsedSpec: { path: string; document: unknown } | undefined;

/**
 * The OpenAPI file, parsed once per process and relaxed where it lags Chatwoot's source (every emulator gets its own
 * copy: the validator annotates the document). Known gaps, each relaxed here and nowhere else:
 *  - four references still point at Swagger 2 `#/definitions/<name>` (generic_id, contact, user, conversation);
 *    the schemas are under `#/components/schemas/<name>`, where the references are pointed;
 *  - request bodies are declared as `application/json; charset=utf-8` only: `application/json` is added beside it;
 *  - `POST .../conversations/{conversation_id}/messages` declares no multipart body, yet Messages::MessageBuilder
 *    takes `attachments[]` files (the dashboard and every API client attach files so): a multipart body with
 *    `content`, `message_type`, `private` and `attachments[]` is added, `content` optional there (a file alone is a
 *    message, as in the dashboard).
 */
export function chatwootSpec(specPath = DEFAULT_CHATWOOT_SPEC): unknown {
  if (parsedSpec?.path !== specPath) {
    const text = readFileSync(specPath, 'utf8').replaceAll('"#/definitions/', '"#/components/schemas/');
    const document = JSON.parse(text) as SpecDocument;
    relaxKnownGaps(document);
    parsedSpec = { path: specPath, document };
  }
  return structuredClone(parsedSpec.document);
}

interface SpecDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>>;
}

function relaxKnownGaps(document: SpecDocument): void {
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      const content = operation?.requestBody?.content;
      const utf8 = content?.['application/json; charset=utf-8'];
      if (content && utf8 && !content['application/json']) content['application/json'] = utf8;
    }
  }
  const messages =
    document.paths['/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages']?.post;
  if (messages?.requestBody?.content) {
    messages.requestBody.content['multipart/form-data'] = {
      schema: {
        type: 'object',
        properties: {
          content: { type: 'string' },
          message_type: { type: 'string', enum: ['outgoing', 'incoming'] },
          private: { type: 'string', enum: ['true', 'false'] },
          'attachments[]': { type: 'array', items: { type: 'string', format: 'binary' } },
        },
      },
    };
  }
}
