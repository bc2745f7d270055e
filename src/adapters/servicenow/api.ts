import { type AxiosInstance, isAxiosError } from 'axios';
import { z } from 'zod';
import type { Attachment, MediaFile } from '../adapter';
import { downloadAttachmentWith } from '../shared/download';
import { toBridgeError } from '../shared/http-errors';
import { requestValidated } from '../shared/response';
import { withoutCodeTags } from './code-tags';
import type { ServiceNowConfig } from './config';
import { vendorApiClient } from '../shared/api-client';

/** One row of a Table API answer: every value is a string (reference fields too, with sysparm_exclude_reference_link). */
export type Row = Record<string, string>;

export interface Page {
  rows: Row[];
  /** True when the page was full: more rows may match. */
  full: boolean;
}

/** What the poller needs from the API; the unit tests give a fake. */
export interface TableReader {
  list(table: string, query: string, fields: string[], limit: number, offset?: number): Promise<Page>;
}

/**
 * The ServiceNow Table API calls the adapter makes (`/api/now/table/...`), responses validated with zod.
 * Errors map onto the core's classes with `toBridgeError`; ServiceNow's own `{error:{message,detail}}` is added to
 * the message (it names the ACL or data policy that refused the call) — never the body we sent.
 */
export class ServiceNowApi implements TableReader {
  private readonly http: AxiosInstance;
  /** The instance's base URL: attachment links on it get the credentials, others never do. */
  readonly baseUrl: string;

  constructor(config: ServiceNowConfig) {
    const baseURL = config.SERVICENOW_BASE_URL ?? `https://${config.SERVICENOW_INSTANCE}.service-now.com`;
    this.baseUrl = baseURL.replace(/\/$/, '');
    this.http = vendorApiClient({
      baseURL: this.baseUrl,
      timeout: config.SERVICENOW_TIMEOUT_MS,
      headers: {
        Authorization: config.SERVICENOW_OAUTH_TOKEN
          ? `Bearer ${config.SERVICENOW_OAUTH_TOKEN}`
          : `Basic ${Buffer.from(`${config.SERVICENOW_USERNAME}:${config.SERVICENOW_PASSWORD}`).toString('base64')}`,
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
    });
  }

  /** GET /api/now/table/<table>?sysparm_query=…: one page, oldest first as the query orders it. */
  async list(table: string, query: string, fields: string[], limit: number, offset = 0): Promise<Page> {
    const data = await this.request(`list ${table}`, listResponse, {
      method: 'GET',
      url: `/api/now/table/${encodeURIComponent(table)}`,
      params: {
        sysparm_query: query,
        sysparm_fields: fields.join(','),
        sysparm_limit: limit,
        ...(offset ? { sysparm_offset: offset } : {}),
        sysparm_exclude_reference_link: true,
      },
    });
    return { rows: data.result, full: data.result.length >= limit };
  }

  /** POST /api/now/table/<table>: the new record's sys_id and number. `[code]` tags are neutralised (code-tags.ts). */
  async create(table: string, fields: Record<string, string>): Promise<Row> {
    const data = await this.request(`create ${table} record`, recordResponse, {
      method: 'POST',
      url: `/api/now/table/${encodeURIComponent(table)}`,
      params: { sysparm_fields: 'sys_id,number', sysparm_exclude_reference_link: true },
      data: withoutCodeTags(fields),
    });
    return data.result;
  }

  /**
   * PATCH /api/now/table/<table>/<sys_id>: each `comments` / `work_notes` value becomes one journal entry.
   * `[code]` tags are neutralised (code-tags.ts).
   */
  async update(table: string, sysId: string, fields: Record<string, string>, call: string): Promise<void> {
    await this.request(call, recordResponse, {
      method: 'PATCH',
      url: `/api/now/table/${encodeURIComponent(table)}/${encodeURIComponent(sysId)}`,
      params: { sysparm_fields: 'sys_id', sysparm_exclude_reference_link: true },
      data: withoutCodeTags(fields),
    });
  }

  /**
   * POST /api/now/attachment/file?table_name=…&table_sys_id=…&file_name=… with the raw bytes and the file's real
   * Content-Type: the file on the record (agents see it in the form's attachments). Returns its sys_id.
   */
  async uploadAttachment(table: string, sysId: string, file: MediaFile): Promise<string> {
    const data = await this.request('upload attachment', attachmentResponse, {
      method: 'POST',
      url: '/api/now/attachment/file',
      params: { table_name: table, table_sys_id: sysId, file_name: file.name },
      headers: { 'Content-Type': file.mimeType, Accept: 'application/json' },
      data: file.data,
      // The bytes go as they are (axios would otherwise try to serialise them), whatever their size.
      transformRequest: [(body: unknown) => body],
      maxBodyLength: Infinity,
    });
    return data.result.sys_id;
  }

  /** GET /api/now/attachment/<sys_id>/file (the link `attachmentUrl` builds): an agent's file, authenticated. */
  downloadAttachment(attachment: Attachment, maxBytes: number): Promise<MediaFile> {
    return downloadAttachmentWith(this.http, 'servicenow', attachment, maxBytes);
  }

  private request<S extends z.ZodType>(
    call: string,
    schema: S,
    config: Parameters<AxiosInstance['request']>[0],
  ): Promise<z.infer<S>> {
    return requestValidated(this.http, 'servicenow', call, schema, config, (err) =>
      withServiceNowDetail(toBridgeError(err, 'servicenow', call), err),
    );
  }
}

/** ServiceNow answers errors as `{error:{message, detail}, status:'failure'}`; the shared mapper reads flat fields only. */
function withServiceNowDetail(mapped: Error, original: unknown): Error {
  if (!isAxiosError(original)) return mapped;
  const parsed = errorBody.safeParse(original.response?.data);
  if (!parsed.success) return mapped;
  const { message, detail } = parsed.data.error;
  const text = [message, detail].filter((s): s is string => !!s && s.trim() !== '').join(' - ');
  if (text) mapped.message = `${mapped.message}: ${text.replace(/\s+/g, ' ').slice(0, 300)}`;
  return mapped;
}

// Values are strings; a field the caller did not ask for may still come back, and a reference field can be an
// object ({link, value}) when sysparm_exclude_reference_link is ignored by a proxy: keep strings only.
const row = z
  .record(z.string(), z.unknown())
  .transform((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === 'string')) as Row);
const listResponse = z.object({ result: z.array(row) });
const recordResponse = z.object({
  result: row.refine((r) => !!r.sys_id, 'the record has no sys_id'),
});
const attachmentResponse = z.object({ result: z.looseObject({ sys_id: z.string().min(1) }) });
const errorBody = z.object({
  error: z.object({ message: z.string().nullish(), detail: z.string().nullish() }),
});
