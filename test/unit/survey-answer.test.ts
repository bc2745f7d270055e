/**
 * Reading a 1–5 rating from what customers send back to a select, in every shape of fixtures 07a–07d (through the
 * BLiP edge's rendering, as the core receives it), and from plain text.
 */
import { questionToLime } from '../../src/blip/channel';
import { limeToChatMessage } from '../../src/blip/content';
import { limeMessageSchema } from '../../src/blip/envelope';
import { readRating } from '../../src/core/handoff/survey-answer';
import { localeTexts } from '../../src/texts';
import { readJsonFixture } from '../helpers/fixtures';

const LABELS = localeTexts['pt-BR'].surveyOptions.split('|');

/** A fixture with its answer replaced, rendered by the edge as the core receives it. */
function received(file: string, change: (raw: Record<string, unknown>) => void) {
  const raw = readJsonFixture<Record<string, unknown>>(`fixtures/lime/${file}`);
  change(raw);
  const rendered = limeToChatMessage(limeMessageSchema.parse(raw), new Date());
  if (rendered.kind !== 'message') throw new Error('not a message');
  return rendered.message;
}

describe('readRating', () => {
  it('reads a WhatsApp button reply to our select (07a shape)', () => {
    const m = received('07a-inbound-select-answer-wa-button.json', (raw) => {
      const content = raw.content as { replied: { value: string } };
      content.replied.value = '4 - Bom';
    });
    expect(m.selected).toBe('4 - Bom');
    expect(readRating(m, LABELS)).toEqual({ rating: 4 });
  });

  it('reads a WhatsApp list reply (07b shape), by the label alone too', () => {
    const m = received('07b-inbound-select-answer-wa-list.json', (raw) => {
      (raw.content as { replied: { value: string } }).replied.value = 'Excelente';
    });
    expect(readRating(m, LABELS)).toEqual({ rating: 5 });
  });

  it('reads a JSON postback (07c: a main bot style {"csat":"5"}) and our own {"rating":2}', () => {
    const m = received('07c-inbound-select-answer-postback-value.json', () => {});
    expect(m.selected).toBe('{"csat":"5","ticket":"4127"}');
    expect(readRating(m, LABELS)).toEqual({ rating: 5 });
    const ours = received('07c-inbound-select-answer-postback-value.json', (raw) => {
      raw.content = { rating: 2 };
    });
    expect(readRating(ours, LABELS)).toEqual({ rating: 2 });
  });

  it('reads the legacy WhatsApp text answer (07d shape) and a postback of an option value', () => {
    for (const [text, rating] of [
      ['3', 3],
      ['3 - REGULAR', 3],
      ['péssimo', 1],
    ] as const) {
      const m = received('07d-inbound-select-answer-wa-legacy-text.json', (raw) => {
        raw.content = text;
      });
      expect(m.selected).toBeUndefined();
      expect(readRating(m, LABELS)).toEqual({ rating });
    }
  });

  it.each([
    ['5', 5],
    [' 4 ', 4],
    ['4/5', 4],
    ['nota 2', 2],
    ['5 estrelas', 5],
    ['⭐⭐⭐', 3],
    ['⭐️⭐️', 2],
    ['cinco', 5],
    ['Três', 3],
    ['four', 4],
    ['uno', 1],
    ['Excelente!', 5],
  ])('reads %p as %p', (text, rating) => {
    expect(readRating({ text }, LABELS)).toEqual({ rating });
  });

  it.each(['0', '6', '10', '45', 'ok', 'obrigado', '3 ou 4', '⭐⭐⭐⭐⭐⭐', ''])(
    '%p is no rating',
    (text) => {
      expect(readRating({ text }, LABELS)).toEqual({ invalid: true });
    },
  );

  it('takes a file or a long text for no answer at all', () => {
    expect(readRating({ text: 'Ainda preciso de ajuda com o meu boleto, ele veio errado' }, LABELS)).toEqual({
      notAnAnswer: true,
    });
    expect(
      readRating({ text: '5', attachments: [{ url: 'https://x/y.jpg', mimeType: 'image/jpeg' }] }, LABELS),
    ).toEqual({ notAnAnswer: true });
  });
});

describe('the question on the wire', () => {
  const question = {
    text: 'Como foi?',
    options: LABELS.map((text, i) => ({ text, value: String(i + 1) })),
    fallback: 'Como foi?\n1 - Péssimo',
  };

  it('is a select with quick replies (scope immediate) on channels that show them', () => {
    const lime = questionToLime({ channel: 'WhatsApp' }, question);
    expect(lime.type).toBe('application/vnd.lime.select+json');
    expect(lime.content).toMatchObject({
      scope: 'immediate',
      text: 'Como foi?',
      options: [{ order: 1, text: '1 - Péssimo', type: 'text/plain', value: '1' }, {}, {}, {}, {}],
    });
  });

  it('is the text fallback elsewhere (SMS, email, an unknown channel)', () => {
    for (const channel of ['SMS', 'Email', undefined]) {
      expect(questionToLime({ channel }, question)).toEqual({
        type: 'text/plain',
        content: question.fallback,
      });
    }
  });
});
