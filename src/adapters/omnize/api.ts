import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { vendorApiClient } from '../shared/api-client';
import { toBridgeError } from '../shared/http-errors';
import { requestValidated } from '../shared/response';
import type { OmnizeConfig } from './config';

/** Omnize's message types (ClientApi "Send message": text, image, video, audio, file). */
export type OmnizeMessageType = 'text' | 'image' | 'video' | 'audio' | 'file';

export interface OmnizeCustomer {
  name?: string;
  email?: string;
  phone?: string;
  cpf?: string;
}

export interface NewInteraction {
  departmentId: number;
  mediaType: string;
  customer: OmnizeCustomer;
  /** Returned on every webhook of the interaction (the bridge's session and the customer's identity). */
  extra: Record<string, string>;
  /** A URL Omnize GETs for the conversation before the handoff (`{ messages: [{ time, direction, content }] }`). */
  externalHistory?: string;
}

export interface NewMessage {
  content: string;
  type: OmnizeMessageType;
  url?: string;
}

const created = z.looseObject({ data: z.looseObject({ interaction_hash: z.string().min(1) }) });
const accepted = z.looseObject({});
const departments = z.union([
  z.array(z.looseObject({ id: z.union([z.number(), z.string()]), name: z.string().optional() })),
  z.looseObject({}),
]);

/**
 * The ClientApi V1 calls the adapter makes (https://github.com/omnize/omnize.github.io,
 * docs/api/v1/interactions.md). The token travels in every body (and the departments' query), as Omnize asks:
 * never logged.
 */
export class OmnizeApi {
  private readonly http: AxiosInstance;
  private readonly services: AxiosInstance;
  private readonly token: string;

  constructor(config: OmnizeConfig) {
    this.token = config.OMNIZE_TOKEN;
    const common = {
      timeout: config.OMNIZE_TIMEOUT_MS,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
    };
    this.http = vendorApiClient({ baseURL: config.OMNIZE_BASE_URL, ...common });
    this.services = vendorApiClient({ baseURL: config.OMNIZE_SERVICES_URL, ...common });
  }

  /** `POST /api/v1/interactions` → the interaction's hash. */
  async startInteraction(i: NewInteraction): Promise<string> {
    const body = {
      token: this.token,
      department_id: i.departmentId,
      media_type: i.mediaType,
      customer: i.customer,
      extra: i.extra,
      ...(i.externalHistory ? { external_history: i.externalHistory } : {}),
    };
    const res = await this.call('start interaction', created, {
      method: 'POST',
      url: '/api/v1/interactions',
      data: body,
    });
    return res.data.interaction_hash;
  }

  /** `POST /api/v1/interactions/{hash}/messages`: a message as the customer. */
  async sendMessage(hash: string, message: NewMessage): Promise<void> {
    await this.call('send message', accepted, {
      method: 'POST',
      url: `/api/v1/interactions/${encodeURIComponent(hash)}/messages`,
      data: { token: this.token, ...message },
    });
  }

  /** `PUT /api/v1/interactions/{hash}/finish`. */
  async finish(hash: string): Promise<void> {
    await this.call('finish interaction', accepted, {
      method: 'PUT',
      url: `/api/v1/interactions/${encodeURIComponent(hash)}/finish`,
      data: { token: this.token },
    });
  }

  /**
   * `PUT /api/v1/interactions/{hash}/typing` (the customer is typing) or `.../cleared` (stopped): "Notify when client
   * typing" / "Notify when client stop typing", the token only in the body.
   */
  async clientTyping(hash: string, typing: boolean): Promise<void> {
    const what = typing ? 'typing' : 'cleared';
    await this.call(`client ${what}`, accepted, {
      method: 'PUT',
      url: `/api/v1/interactions/${encodeURIComponent(hash)}/${what}`,
      data: { token: this.token },
    });
  }

  /** `GET /api/v1/departments?token=` on the services host: the credentials check. */
  async departments(): Promise<Array<{ id: string; name?: string }>> {
    const res = await requestValidated(
      this.services,
      'omnize',
      'list departments',
      departments,
      { method: 'GET', url: '/api/v1/departments', params: { token: this.token } },
      (err) => toBridgeError(err, 'omnize', 'list departments'),
    );
    const list = Array.isArray(res) ? res : [];
    return list.map((d) => ({ id: String(d.id), ...(d.name ? { name: d.name } : {}) }));
  }

  private call<S extends z.ZodType>(
    call: string,
    schema: S,
    config: Parameters<AxiosInstance['request']>[0],
  ): Promise<z.infer<S>> {
    return requestValidated(this.http, 'omnize', call, schema, config, (err) =>
      toBridgeError(err, 'omnize', call),
    );
  }
}
