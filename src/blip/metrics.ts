import type { Metrics } from '../telemetry/metrics';
import type { BlipConnection } from './client';

/**
 * The BLiP edge's own counters on `/metrics`: how sends were confirmed (by BLiP's notification, or by the socket
 * on a server that does not acknowledge) and frames over BLIP_MAX_FRAME_BYTES. Senders refused at the edge count
 * with the other refusals, in `bhb_requests_refused_total{route="lime"}`.
 */
export function registerBlipMetrics(metrics: Metrics, connection: BlipConnection): void {
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
  connection.onSendConfirmed = (by) => confirmed.inc({ by });
  connection.onFrameTooLarge = (dropped) => tooLarge.inc({ action: dropped ? 'socket_closed' : 'refused' });
}
