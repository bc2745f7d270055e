import type { LimeNotification } from 'blip-sdk';
import { guardNotifications } from '../../src/blip/client';
import { captureLogs } from '../helpers/log-capture';

describe('the SDK’s own notifications', () => {
  const consumed = { id: 'm1', to: 'ana@tunnel.msging.net', event: 'consumed' } as LimeNotification;

  it('are sent as before while the connection is open', () => {
    const sent: LimeNotification[] = [];
    const client = { sendNotification: (n: LimeNotification) => void sent.push(n) };
    guardNotifications(client, captureLogs().logger);
    client.sendNotification(consumed);
    expect(sent).toEqual([consumed]);
  });

  it('are logged as lost, not thrown, when the connection closed meanwhile (the SDK leaves the throw unhandled)', () => {
    const logs = captureLogs();
    const client = {
      sendNotification: (_notification: LimeNotification): void => {
        throw new Error('The connection is not open');
      },
    };
    guardNotifications(client, logs.logger);
    expect(() => client.sendNotification(consumed)).not.toThrow();
    expect(logs.lines()).toEqual([
      expect.objectContaining({ level: 'warn', code: 'BLIP_NOTIFICATION_LOST', event: 'consumed' }),
    ]);
  });

  it('with BRIDGE_READ_RECEIPTS=agent, drop the SDK’s received-on-arrival (the bridge says it once recorded)', () => {
    const sent: LimeNotification[] = [];
    const client = { sendNotification: (n: LimeNotification) => void sent.push(n) };
    guardNotifications(client, captureLogs().logger, true);
    const received = { ...consumed, event: 'received' } as LimeNotification;
    const failed = { ...consumed, event: 'failed', reason: { code: 101 } } as LimeNotification;
    client.sendNotification(received);
    client.sendNotification(failed);
    expect(sent).toEqual([failed]);
  });
});
