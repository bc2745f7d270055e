import type { FastifyInstance } from 'fastify';
import type { Logger } from '../core/logger';
import type { MediaLookup } from '../media/host';
import { RefusalLog } from '../telemetry/refusals';

/** What the route needs from the media host (`src/media/host.ts`). */
export interface MediaSource {
  open(token: string): Promise<MediaLookup>;
}

/** Types a browser may show in place; anything else is offered as a download. */
const INLINE = /^(image|audio|video)\/|^application\/pdf$/;

/**
 * `GET /media/<token>` (and HEAD): an agent's file re-hosted for the customer. Unknown, forged or tampered tokens
 * get 404 (nothing tells a prober which part was wrong), expired ones 410. The token is never logged: it is the
 * key to the file. Malformed and forged tokens are refusals anyone can send in a loop: logged in aggregate
 * (`RefusalLog`) and counted in `bhb_requests_refused_total`.
 */
export function registerMediaRoute(
  app: FastifyInstance,
  source: MediaSource,
  logger: Logger,
  refusals: RefusalLog = new RefusalLog(logger),
): void {
  app.get<{ Params: { token: string } }>('/media/:token', async (request, reply) => {
    const found = await source.open(request.params.token);
    if (!found.ok) {
      if (found.reason === 'bad-signature' || found.reason === 'malformed') {
        refusals.refuse({
          route: '/media/:token',
          reason: found.reason,
          code: 'MEDIA_LINK_INVALID',
          message: 'media link refused',
          meta: { ip: request.ip },
        });
      } else {
        logger.info('media link no longer available', {
          ip: request.ip,
          reason: found.reason,
          code: 'MEDIA_LINK_GONE',
        });
      }
      return reply
        .status(found.reason === 'expired' ? 410 : 404)
        .header('cache-control', 'no-store')
        .send({ error: found.reason === 'expired' ? 'link expired' : 'not found' });
    }
    const { file, expiresAt } = found;
    const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
    return reply
      .status(200)
      .header('content-type', file.mimeType)
      .header('content-length', String(file.data.length))
      .header('content-disposition', contentDisposition(file.mimeType, file.name))
      .header('cache-control', `private, max-age=${maxAge}`)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .send(file.data);
  });
}

/** `inline` or `attachment`, with an ASCII file name and the exact one in RFC 5987 form. */
export function contentDisposition(mimeType: string, name: string): string {
  const kind = INLINE.test(mimeType) ? 'inline' : 'attachment';
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_') || 'file';
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
