/**
 * The Omnize emulator's HTTP side: the ClientApi V1 routes the adapter calls (docs/api/v1/interactions.md of
 * https://github.com/omnize/omnize.github.io), each body checked strictly with zod (Omnize publishes no OpenAPI
 * file: these schemas are the documented tables), faults first, then the token, then the shape.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { FaultQueue, markFault, type RecordedRequest, recordRequests } from '../../../sandbox/emulator-kit';

/** `POST /api/v1/interactions`: the documented body (token, department_id, media_type, extra, customer, external_history). */
export const startInteractionBody = z.strictObject({
  token: z.string().min(1),
  department_id: z.number().int().positive(),
  media_type: z.enum(['TEXT', 'SMS', 'WHATSAPP']).nullish(),
  extra: z.record(z.string(), z.unknown()).optional(),
  customer: z
    .strictObject({
      phone: z.string().optional(),
      cpf: z.string().optional(),
      name: z.string().optional(),
      email: z.string().optional(),
    })
    .optional(),
  external_history: z.url().optional(),
});

/** `POST /api/v1/interactions/{hash}/messages`: token, content, type, url. */
export const sendMessageBody = z.strictObject({
  token: z.string().min(1),
  content: z.string(),
  type: z.enum(['text', 'image', 'video', 'audio', 'file']).nullish(),
  url: z.url().optional(),
});

/** `PUT .../finish`, `.../typing`, `.../cleared`: the token only. */
export const tokenBody = z.strictObject({ token: z.string().min(1) });

/** The external history document Omnize GETs (`messages: [{ time, direction, content }]`). */
export const externalHistoryDocument = z.strictObject({
  messages: z.array(
    z.strictObject({
      time: z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
      direction: z.enum(['CLIENT', 'AGENT']),
      content: z.string(),
    }),
  ),
});

export interface OmnizeRoutes {
  token: string;
  requests: RecordedRequest[];
  faults: FaultQueue;
  startInteraction(body: z.infer<typeof startInteractionBody>): string;
  /** Resolves false when there is no such interaction. */
  customerMessage(
    hash: string,
    body: z.infer<typeof sendMessageBody>,
  ): Promise<'ok' | 'unknown' | 'finished'>;
  finish(hash: string): boolean;
  /** The customer typing (`typing`) or stopped (`cleared`); false when there is no such interaction. */
  clientTyping(hash: string, state: 'typing' | 'cleared'): 'ok' | 'unknown' | 'finished';
  departments(): Array<{ id: number; name: string }>;
  file(id: string): { name: string; mimeType: string; data: Buffer } | undefined;
}

/** Omnize's error shape: `{ message, status }`. */
function fail(res: Response, status: number, message: string): void {
  res.status(status).json({ message, status });
}

export function omnizeApp(routes: OmnizeRoutes): Express {
  const app = express();
  app.use(express.json({ limit: '5mb' }));
  app.use(recordRequests(routes.requests, (req) => req.path.startsWith('/api/')));
  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    const fault = routes.faults.take();
    if (fault) {
      markFault(res, String(fault.status));
      res.set(fault.headers);
      return fail(res, fault.status, 'emulated fault');
    }
    const body = req.body as { token?: unknown } | undefined;
    const token = req.method === 'GET' ? req.query.token : body?.token;
    if (token !== routes.token) return fail(res, 401, 'Invalid token');
    next();
  });

  const parse = <S extends z.ZodType>(schema: S, req: Request, res: Response): z.infer<S> | undefined => {
    const parsed = schema.safeParse(req.body);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    fail(res, 422, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    return undefined;
  };

  app.post('/api/v1/interactions', (req, res) => {
    const body = parse(startInteractionBody, req, res);
    if (!body) return;
    if (!routes.departments().some((d) => d.id === body.department_id))
      return fail(res, 422, 'department_id is not an active department');
    const hash = routes.startInteraction(body);
    res.json({ message: 'Interaction created successfully', data: { interaction_hash: hash } });
  });

  app.post('/api/v1/interactions/:hash/messages', async (req, res) => {
    const body = parse(sendMessageBody, req, res);
    if (!body) return;
    if ((body.type ?? 'text') !== 'text' && !body.url) return fail(res, 422, 'url is required for a file');
    const outcome = await routes.customerMessage(req.params.hash, body);
    if (outcome === 'unknown') return fail(res, 404, 'Interaction not found');
    if (outcome === 'finished') return fail(res, 422, 'Interaction already finished');
    res.json({
      data: { interaction_hash: req.params.hash },
      message: 'Message created successfully',
      status: 200,
    });
  });

  app.put('/api/v1/interactions/:hash/finish', (req, res) => {
    if (!parse(tokenBody, req, res)) return;
    if (!routes.finish(req.params.hash)) return fail(res, 404, 'Interaction not found');
    res.json({ message: 'Interaction finished successfully', status: 200 });
  });

  // "Notify when client typing" / "Notify when client stop typing": the token only.
  app.put('/api/v1/interactions/:hash/:state', (req, res, next) => {
    const state = req.params.state;
    if (state !== 'typing' && state !== 'cleared') return next();
    if (!parse(tokenBody, req, res)) return;
    const outcome = routes.clientTyping(req.params.hash, state);
    if (outcome === 'unknown') return fail(res, 404, 'Interaction not found');
    if (outcome === 'finished') return fail(res, 422, 'Interaction already finished');
    res.json({ message: 'Notification sent successfully', status: 200 });
  });

  app.get('/api/v1/departments', (_req, res) => {
    res.json(routes.departments());
  });

  // Agents' files, public like Omnize's S3 links.
  app.get('/_emulator/files/:id/:name', (req, res) => {
    const file = routes.file(req.params.id);
    if (!file) return res.status(404).end();
    res.type(file.mimeType).send(file.data);
  });
  return app;
}
