import type { ChatMessage } from '../model';

/** What a customer's message during the survey is: a rating, an attempt that is none, or plainly no answer. */
export type SurveyAnswer = { rating: number } | { invalid: true } | { notAnAnswer: true };

/** Longer than this (or with a file), a message is taken for something the customer wants to say, not a rating. */
const MAX_ANSWER_LENGTH = 40;

/** Keys of a JSON postback that carry the rating (`{"csat":"5"}` from a main bot's own survey buttons, ours). */
const RATING_KEYS = ['rating', 'csat', 'score', 'nota', 'value'];

const NUMBER_WORDS: Record<string, number> = {
  um: 1,
  uma: 1,
  one: 1,
  uno: 1,
  dois: 2,
  duas: 2,
  two: 2,
  dos: 2,
  tres: 3,
  three: 3,
  quatro: 4,
  four: 4,
  cuatro: 4,
  cinco: 5,
  five: 5,
};

/** Words around a rating that do not change it ("5 estrelas", "nota 4", "4 stars"). */
const FILLER = /\b(nota|note|rating|estrelas?|estrellas?|stars?|pontos?|puntos?|points?)\b/g;

/**
 * Reads a 1–5 rating from a customer's answer, in every shape a select answer arrives in (fixtures 07a–07d): the
 * option picked (a quick reply's text, a JSON postback: `ChatMessage.selected`), else the text: a lone number 1–5
 * ("5", "4/5", "nota 4", "5 - Excelente"), stars ("⭐⭐⭐"), a number word in pt/en/es ("cinco", "three"), or an
 * option's label in the customer's language ("Excelente"). `labels` are the options' texts, worst first.
 */
export function readRating(
  message: Pick<ChatMessage, 'text' | 'selected' | 'attachments'>,
  labels: string[],
): SurveyAnswer {
  if (message.attachments?.length) return { notAnAnswer: true };
  const picked = message.selected !== undefined ? fromSelected(message.selected, labels) : undefined;
  if (picked) return { rating: picked };
  const text = message.selected ?? message.text;
  const rating = fromText(text, labels);
  if (rating) return { rating };
  return text.trim().length > MAX_ANSWER_LENGTH ? { notAnAnswer: true } : { invalid: true };
}

function fromSelected(selected: string, labels: string[]): number | undefined {
  const trimmed = selected.trim();
  if (trimmed.startsWith('{')) {
    try {
      const json = JSON.parse(trimmed) as Record<string, unknown>;
      for (const key of RATING_KEYS) {
        const value = json[key];
        const rating =
          typeof value === 'number' ? value : typeof value === 'string' ? fromText(value, labels) : undefined;
        if (rating && Number.isInteger(rating) && rating >= 1 && rating <= 5) return rating;
      }
    } catch {
      return undefined;
    }
    return undefined;
  }
  return fromText(trimmed, labels);
}

function fromText(raw: string, labels: string[]): number | undefined {
  const text = normalise(raw);
  if (!text || text.length > MAX_ANSWER_LENGTH) return undefined;
  const label = labels.findIndex((l) => {
    const n = normalise(l);
    return n === text || n.replace(/^\d\s*[-–.:)]?\s*/, '') === text;
  });
  if (label >= 0 && label < 5) return label + 1;
  const stars = [...raw.replace(/[\s\uFE0F]/g, '')];
  if (stars.length >= 1 && stars.length <= 5 && stars.every((c) => c === '⭐' || c === '★'))
    return stars.length;
  const bare = text.replace(FILLER, ' ').replace(/\s+/g, ' ').trim();
  if (NUMBER_WORDS[bare]) return NUMBER_WORDS[bare];
  // A lone number 1–5, maybe "out of 5" or followed by the option's label ("5 - Excelente").
  const m = /^(\d+)(?:\s*(?:\/|de|of)\s*5)?(?:\s*[-–.:)]\s*\D*|\s+\D*)?$/.exec(bare);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n >= 1 && n <= 5 ? n : undefined;
}

function normalise(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[!?¡¿"'`]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}
