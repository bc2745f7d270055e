import type { Metrics } from '../telemetry/metrics';
import type { BlipConnection } from './client';
import type { SenderRefusal } from './inbound';

/**
 * The BLiP edge's own counters on `/metrics`: how sends were confirmed (by BLiP's notification, or by the socket
 * on a server that does not acknowledge), frames over BLIP_MAX_FRAME_BYTES, and senders refused at the edge.
 * Returns the hook the sender policy counts with.
 */
export function registerBlipMetrics(
  metrics: Metrics,
  connection: BlipConnection,
): { onSenderRefused(reason: SenderRefusal): void } {
  const confirmed = metrics.counter({
    name: 'bhb_blip_sends_confirmed_total',
    help: 'Messages to customers counted as sent, by what confirmed them: BLiP notification or WebSocket round trip',
    labelNames: ['by'],
  });
  const tooLarge = metrics.counter({
    name: 'bhb_lime_frames_too_large_total',
    help: 'LIME frames over BLIP_MAX_FRAME_BYTES: refused (session kept) or socket closed by the WebSocket client',
    labelNames: ['action'],
  });
  const refused = metrics.counter({
    name: 'bhb_lime_senders_refused_total',
    help: 'LIME messages refused at the edge: a sender that is not a tunnel (direct) or not of BLIP_ROUTERS',
    labelNames: ['reason'],
  });
  connection.onSendConfirmed = (by) => confirmed.inc({ by });
  connection.onFrameTooLarge = (dropped) => tooLarge.inc({ action: dropped ? 'socket_closed' : 'refused' });
  return { onSenderRefused: (reason) => refused.inc({ reason }) };
}
