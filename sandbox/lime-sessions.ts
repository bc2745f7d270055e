/**
 * The sandbox LIME server's sessions: each WebSocket's session (new -> authenticating with a key -> established),
 * the frames a real server would refuse (./lime-validation.ts: the session ends, `finished`, and is recorded in
 * `refusals`), the server ending sessions, and which established session a message to a bot goes through.
 * Frames of an established session go to `onEnvelope` (./lime-server.ts).
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import { kindOf, refusalOf, type EnvelopeKind } from './lime-validation';
import type { Envelope, LimeServerOptions } from './lime-types';

/** A session the server ended because of a frame it could not read. */
export interface Refusal {
  at: Date;
  /** The bot's identity, when the session was authenticated. */
  identity?: string;
  reason: string;
  /** The first 200 characters of the frame. */
  frame: string;
}

export interface Session {
  socket: WebSocket;
  id: string;
  state: 'new' | 'authenticating' | 'established' | 'finished';
  identity?: string;
  node?: string;
}

export interface SessionsContext {
  /** The server's own node (`postmaster@<domain>/sandbox`). */
  serverNode: string;
  accounts: LimeServerOptions['accounts'];
  strict: LimeServerOptions['strict'];
  logger: LimeServerOptions['logger'];
  /** Where `established` and `refused` are emitted (the LimeServer). */
  events: EventEmitter;
  /** Whether a WebSocket ping is answered now (a dying socket answers none). */
  answersPing(): boolean;
  /** A frame of an established session that is no session envelope. */
  onEnvelope(session: Session, kind: EnvelopeKind | undefined, envelope: Envelope): void;
}

export class LimeSessions {
  /** Every session the server ended because of a frame a real LIME server could not deserialize. */
  readonly refusals: Refusal[] = [];
  private readonly all = new Set<Session>();
  private roundRobin = 0;

  constructor(private readonly context: SessionsContext) {}

  /** Bot identities with an established session. */
  get connectedBots(): string[] {
    return [...this.all].filter((s) => s.state === 'established').map((s) => s.identity ?? '');
  }

  /** The bot's established sessions. */
  established(bot: string): Session[] {
    return [...this.all].filter((s) => s.state === 'established' && s.identity === bot.toLowerCase());
  }

  /** One of the bot's established sessions, in turn (throws when it has none). */
  pick(bot: string): Session {
    const candidates = this.established(bot);
    if (candidates.length === 0) throw new Error(`no established session for ${bot}`);
    return candidates[this.roundRobin++ % candidates.length] as Session;
  }

  /** Closes every connection abruptly. */
  terminateAll(): void {
    for (const s of this.all) s.socket.terminate();
  }

  accept(socket: WebSocket): void {
    const session: Session = { socket, id: randomUUID(), state: 'new' };
    this.all.add(session);
    socket.on('close', () => this.all.delete(session));
    socket.on('error', () => this.all.delete(session));
    socket.on('ping', (data) => {
      if (this.context.answersPing()) socket.pong(data);
    });
    socket.on('message', (data) => {
      // Frames still in flight after the server ended the session: a real server has stopped reading.
      if (session.state === 'finished') return;
      const text = String(data);
      try {
        let frame: unknown;
        try {
          frame = JSON.parse(text);
        } catch {
          return this.refuse(session, 'the frame is not JSON', text);
        }
        const refusal = refusalOf(frame);
        if (refusal && (this.context.strict ?? true)) return this.refuse(session, refusal, text);
        if (frame === null || typeof frame !== 'object' || Array.isArray(frame))
          return this.refuse(session, 'the frame is not a JSON object', text);
        this.handle(session, frame as Envelope);
      } catch (err) {
        // Whatever a client sends, the process hosting the sandbox goes on.
        this.refuse(session, `the server could not process the frame: ${(err as Error).message}`, text);
      }
    });
  }

  reply(session: Session, envelope: Envelope): void {
    if (session.socket.readyState === WebSocket.OPEN) session.socket.send(JSON.stringify(envelope));
  }

  /** `finished` or `failed` (with a reason), then the socket closes. */
  end(session: Session, state: 'finished' | 'failed', reason?: { code: number; description: string }): void {
    const wasEstablished = session.state === 'established';
    session.state = 'finished';
    this.reply(session, {
      id: session.id,
      from: this.context.serverNode,
      ...(wasEstablished && session.node ? { to: session.node } : {}),
      state,
      ...(reason ? { reason } : {}),
    });
    session.socket.close();
  }

  private handle(session: Session, envelope: Envelope): void {
    const kind = kindOf(envelope);
    if (kind === 'session') return this.handleSession(session, envelope);
    if (session.state !== 'established') {
      return this.refuse(session, `a ${kind ?? 'frame'} before the session was established`, '');
    }
    this.context.onEnvelope(session, kind, envelope);
  }

  /** Ends the session because of a frame it could not read, and says why. */
  private refuse(session: Session, reason: string, frame: string): void {
    const refusal: Refusal = {
      at: new Date(),
      identity: session.identity,
      reason,
      frame: frame.slice(0, 200),
    };
    this.refusals.push(refusal);
    this.context.logger?.warn('sandbox LIME server ended a session: a frame a real server would refuse', {
      code: 'SANDBOX_FRAME_REFUSED',
      bot: session.identity,
      reason,
    });
    this.context.events.emit('refused', refusal);
    this.end(session, 'finished');
  }

  private handleSession(session: Session, envelope: Envelope): void {
    const state = envelope.state;
    if (state === 'new' && session.state === 'new') {
      session.state = 'authenticating';
      this.reply(session, {
        id: session.id,
        state: 'authenticating',
        from: this.context.serverNode,
        schemeOptions: ['key'],
      });
      return;
    }
    if (state === 'authenticating' && session.state === 'authenticating') {
      const from = String(envelope.from ?? '');
      const [identity = '', instance = 'default'] = from.split('/');
      const identifier = identity.split('@')[0] ?? '';
      const auth = envelope.authentication as { key?: string } | undefined;
      const expected = this.context.accounts[identifier];
      if (envelope.scheme !== 'key' || !expected || auth?.key !== expected) {
        // A real BLiP server's words (lime-csharp's GENERAL_ERROR code).
        this.end(session, 'failed', { code: 1, description: 'The session authentication failed' });
        return;
      }
      session.state = 'established';
      session.identity = identity.toLowerCase();
      session.node = `${identity}/${instance}`;
      this.reply(session, {
        id: session.id,
        state: 'established',
        from: this.context.serverNode,
        to: session.node,
      });
      this.context.events.emit('established', session.identity);
      return;
    }
    if (state === 'finishing') {
      this.end(session, 'finished');
    }
  }
}
