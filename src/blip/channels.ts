/**
 * The channel a customer writes from, named after the domain of the real customer behind the router's tunnel
 * (`#tunnel.originator`): `5511…@wa.gw.msging.net` is WhatsApp. Unknown domains are reported as they are.
 * Shared by the ticket subject template (`{channel}`) and the session reports.
 */
const CHANNELS: Record<string, string> = {
  'wa.gw.msging.net': 'WhatsApp',
  'instagram.gw.msging.net': 'Instagram',
  'messenger.gw.msging.net': 'Messenger',
  'facebook.gw.msging.net': 'Messenger',
  'telegram.gw.msging.net': 'Telegram',
  'mailgun.gw.msging.net': 'Email',
  'email.gw.msging.net': 'Email',
  'workplace.gw.msging.net': 'Workplace',
  'abc.gw.msging.net': 'Apple Messages for Business',
  'businessmessages.gw.msging.net': 'Google Business Messages',
  'teams.gw.msging.net': 'Microsoft Teams',
  'take.io': 'SMS',
  '0mn.io': 'BLiP Chat',
};

export interface Channel {
  channel: string | null;
  domain: string | null;
}

/** The channel of an identity (`name@domain`, optionally `/instance`). */
export function channelOf(identity: string | undefined): Channel {
  if (!identity) return { channel: null, domain: null };
  const at = identity.lastIndexOf('@');
  if (at < 0) return { channel: null, domain: null };
  const domain = identity
    .slice(at + 1)
    .split('/')[0]!
    .toLowerCase();
  if (!domain) return { channel: null, domain: null };
  return { channel: CHANNELS[domain] ?? domain, domain };
}
