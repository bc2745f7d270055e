import { chatMessageToLime, splitText } from '../../src/blip/content';
import type { CustomerRef } from '../../src/core/model';
import { startCore } from '../helpers/core-harness';

describe('splitText', () => {
  it('keeps a short text whole and drops whitespace-only text', () => {
    expect(splitText('Olá, Maria!', 4096)).toEqual(['Olá, Maria!']);
    expect(splitText('   \n ', 4096)).toEqual([]);
  });

  it('splits at word boundaries, in order, never over the limit, losing no word', () => {
    const words = Array.from({ length: 400 }, (_, i) => `palavra${i}`);
    const text = words.join(' ');
    const parts = splitText(text, 100);
    expect(parts.length).toBeGreaterThan(30);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(100);
    expect(parts.join(' ').split(' ')).toEqual(words);
  });

  it('prefers a paragraph break in the second half of the window', () => {
    const first = 'a'.repeat(60);
    const text = `${first}\n\nsecond paragraph that is long enough to pass the limit of the window`;
    expect(splitText(text, 100)[0]).toBe(first);
  });

  it('cuts a single word longer than the limit', () => {
    expect(splitText('x'.repeat(250), 100)).toEqual(['x'.repeat(100), 'x'.repeat(100), 'x'.repeat(50)]);
  });

  it('sends each part as its own text message before the attachments', () => {
    const lime = chatMessageToLime(
      {
        text: 'uma frase longa demais',
        attachments: [{ url: 'https://x/y.pdf', mimeType: 'application/pdf' }],
      },
      10,
    );
    expect(lime.map((l) => l.content)).toEqual([
      'uma frase',
      'longa',
      'demais',
      { type: 'application/pdf', uri: 'https://x/y.pdf' },
    ]);
  });
});

describe('agent signature', () => {
  const customer: CustomerRef = { key: 'c@tunnel.msging.net', address: 'c@tunnel.msging.net' };

  /** What the customer reads of an agent's reply, through the lanes. */
  async function deliver(signature: string | undefined, agentName: string | undefined, text: string) {
    const h = startCore({ settings: { agentSignature: signature } });
    try {
      await h.write(customer, { id: 'm1', text: 'oi', at: new Date().toISOString() });
      const ticket = (await h.state.store.get(customer.key))!.ticket!;
      await h.helpdeskSends({
        kind: 'agent.message',
        ticket,
        eventId: 'e1',
        ...(agentName ? { agent: { id: 'a1', name: agentName } } : {}),
        message: { id: 'c1', text, at: new Date().toISOString() },
      });
      return h.timeline.of('send').map((s) => s.text);
    } finally {
      await h.stop();
    }
  }

  it('signs the text with the agent name when a template is set', async () => {
    expect(await deliver('*{agent}*: {text}', 'Ana Souza', 'Olá $& $1')).toEqual(['*Ana Souza*: Olá $& $1']);
  });

  it('sends the text unchanged without a template or without a name', async () => {
    expect(await deliver(undefined, 'Ana Souza', 'Olá')).toEqual(['Olá']);
    expect(await deliver('*{agent}*: {text}', undefined, 'Olá')).toEqual(['Olá']);
  });
});
