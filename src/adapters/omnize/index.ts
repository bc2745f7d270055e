import { createHash } from 'node:crypto';
import {
  errorCode,
  PermanentError,
  silentLogger,
  type AdapterModule,
  type ChatMessage,
  type ClosedBy,
  type CustomerTypingState,
  type HelpdeskAdapter,
  type Logger,
  type MediaFile,
  type OpenTicketRequest,
  type PublishFile,
  type TicketRef,
} from '../adapter';
import { teamId } from '../shared/field-map';
import { OmnizeApi } from './api';
import { type OmnizeConfig, omnizeConfigSchema } from './config';
import {
  CUSTOMER_EXTRA,
  customerOf,
  externalHistory,
  historyText,
  messagesOf,
  NOTE_PREFIX,
  SESSION_EXTRA,
} from './mapping';
import { omnizeSetup } from './setup';
import { OmnizeWebhook } from './webhook';

/**
 * Omnize (ClientApi V1): one interaction per handoff, opened with the customer and the bot conversation
 * (`external_history`, a URL Omnize reads), the customer's messages sent as the customer, `finish` on close;
 * webhooks ("triggers") for the interaction's states and the agents' messages, authenticated by a token in the URL.
 */
export class OmnizeAdapter implements HelpdeskAdapter {
  readonly name = 'omnize';
  readonly limits: HelpdeskAdapter['limits'];
  readonly webhook: OmnizeWebhook;
  /** The bot conversation goes into Omnize's own `external_history`, not into a note or the first message. */
  readonly takesHistory = true;
  private readonly api: OmnizeApi;

  constructor(
    private readonly config: OmnizeConfig,
    private readonly logger: Logger = silentLogger,
    private readonly publish?: PublishFile,
  ) {
    this.api = new OmnizeApi(config);
    this.webhook = new OmnizeWebhook(config.OMNIZE_WEBHOOK_TOKEN);
    // openTicket is two calls at least: the interaction, then the first message.
    this.limits = {
      requestsPerMinute: config.OMNIZE_REQUESTS_PER_MINUTE,
      callsPerMethod: { openTicket: 2 },
    };
  }

  /**
   * Opens in two calls (Omnize has no idempotency key, no external reference to search by and no first message in
   * the create call): the interaction, then the first message. When the second fails, the interaction just opened
   * is finished before the error goes up, so the core's retry opens one clean interaction.
   */
  async openTicket(req: OpenTicketRequest, _idempotencyKey: string): Promise<TicketRef> {
    const department = teamId(req.fields?.team, this.config.OMNIZE_DEPARTMENTS, /^\d+$/);
    if (department.unmapped) {
      this.logger.warn(
        'team has no Omnize department in OMNIZE_DEPARTMENTS; the default department takes it',
        {
          vendor: this.name,
          team: department.unmapped,
          code: 'OMNIZE_UNKNOWN_TEAM',
        },
      );
    }
    const history = req.history?.length ? req.history : undefined;
    const historyUrl = history ? await this.historyLink(req.sessionId, history) : undefined;
    const hash = await this.api.startInteraction({
      departmentId: Number(department.id ?? this.config.OMNIZE_DEPARTMENT_ID),
      mediaType: this.config.OMNIZE_MEDIA_TYPE,
      customer: customerOf(req),
      extra: {
        [SESSION_EXTRA]: req.sessionId,
        [CUSTOMER_EXTRA]: req.customer.originator ?? req.customer.key,
      },
      ...(historyUrl ? { externalHistory: historyUrl } : {}),
    });
    const ticket: TicketRef = { vendor: this.name, id: hash };
    try {
      // Without a public URL to serve the history at, the agent reads it before the first message.
      if (history && !historyUrl)
        await this.api.sendMessage(hash, { content: historyText(history), type: 'text' });
      await this.send(hash, req.first);
    } catch (err) {
      await this.finishOrphan(hash);
      throw err;
    }
    return ticket;
  }

  /**
   * Omnize has no idempotency key and no read API: a retry (`options.again`) writes again, so a lost answer can
   * show a message twice, never lose it.
   */
  async appendCustomerMessage(ticket: TicketRef, message: ChatMessage): Promise<void> {
    await this.send(ticket.id, message);
  }

  /**
   * Omnize takes files only as a message's `url`: the customer's file (downloaded and checked by the core) is served
   * by the bridge at a signed link with the media TTL, and that link is the reference the file message carries.
   * Without a public URL (`BRIDGE_PUBLIC_URL`) there is nowhere to serve it: refused, so the core gives the agent the
   * link with a note (after its address and type checks).
   */
  async uploadAttachment(file: MediaFile): Promise<string> {
    if (!this.publish) {
      throw new PermanentError(
        'omnize takes files as links only; set BRIDGE_PUBLIC_URL so the bridge can serve them',
        'OMNIZE_NO_PUBLIC_URL',
      );
    }
    return this.publish(`omz-f-${digest(file.data)}`, file);
  }

  async addInternalNote(ticket: TicketRef, text: string): Promise<void> {
    await this.api.sendMessage(ticket.id, { content: `${NOTE_PREFIX}${text}`, type: 'text' });
  }

  async closeTicket(ticket: TicketRef, _closedBy: ClosedBy): Promise<void> {
    await this.api.finish(ticket.id);
  }

  /** The customer typing (`composing`) or stopped (`paused`): Omnize's client `typing` / `cleared` notifications. */
  async customerTyping(ticket: TicketRef, state: CustomerTypingState): Promise<void> {
    await this.api.clientTyping(ticket.id, state === 'composing');
  }

  private async send(hash: string, message: ChatMessage): Promise<void> {
    for (const m of messagesOf(message)) await this.api.sendMessage(hash, m);
  }

  /**
   * The bot conversation as Omnize's history document, served by the bridge at a signed URL Omnize GETs; undefined
   * without a public URL, or when the bridge could not keep it (then it goes as the first text: a detail never
   * stops the handoff).
   */
  private async historyLink(
    sessionId: string,
    history: NonNullable<OpenTicketRequest['history']>,
  ): Promise<string | undefined> {
    if (!this.publish) return undefined;
    const data = Buffer.from(JSON.stringify(externalHistory(history)));
    try {
      return await this.publish(`omz-h-${digest(Buffer.from(sessionId))}`, {
        name: 'history.json',
        mimeType: 'application/json',
        size: data.length,
        data,
      });
    } catch (err) {
      this.logger.warn('omnize: the bot conversation could not be served; it goes as the first message', {
        vendor: this.name,
        code: 'OMNIZE_HISTORY_NOT_SERVED',
        cause: errorCode(err),
      });
      return undefined;
    }
  }

  /** Best effort: the interaction opened without its first message is finished; its own failure is logged. */
  private async finishOrphan(hash: string): Promise<void> {
    try {
      await this.api.finish(hash);
      this.logger.warn(
        'omnize: first message failed; the new interaction was finished, the open is retried',
        {
          vendor: this.name,
          ticket: hash,
          code: 'OMNIZE_ORPHAN_FINISHED',
        },
      );
    } catch (err) {
      this.logger.warn('omnize: could not finish an interaction left without its first message', {
        vendor: this.name,
        ticket: hash,
        code: 'OMNIZE_ORPHAN_LEFT',
        cause: errorCode(err),
      });
    }
  }
}

function digest(data: Buffer): string {
  // Short: the media token (id, expiry, signature) must stay within the HTTP edge's 100-character path parameter.
  return createHash('sha256').update(data).digest('hex').slice(0, 32);
}

export const omnizeModule: AdapterModule<typeof omnizeConfigSchema> = {
  name: 'omnize',
  configSchema: omnizeConfigSchema,
  create: (config, { logger, publish }) => new OmnizeAdapter(config, logger, publish),
  setup: omnizeSetup,
};
