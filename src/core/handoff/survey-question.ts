import type { Conversation } from '../model';
import type { Question } from '../ports';
import type { Handoff } from './context';
import { textsOf } from './texts';

/** The survey's texts in the conversation's locale; the built-in defaults fill what the deployment left out. */
export interface SurveyTexts {
  question: string;
  labels: string[];
  hint: string;
  invalid?: string;
  thanks?: string;
}

/** Used only when the deployment gave no localized texts at all (a core assembled without `texts`). */
const FALLBACK: SurveyTexts = {
  question: 'How would you rate the service you received?',
  labels: ['1', '2', '3', '4', '5'],
  hint: 'Reply with a number from 1 to 5.',
};

export function surveyTexts(h: Handoff, conversation: Pick<Conversation, 'locale'>): SurveyTexts {
  const t = textsOf(h, conversation);
  const labels = (t.surveyOptions ?? '')
    .split('|')
    .map((l) => l.trim())
    .filter(Boolean);
  return {
    question: t.surveyQuestion ?? FALLBACK.question,
    labels: labels.length === 5 ? labels : FALLBACK.labels,
    hint: t.surveyHint ?? FALLBACK.hint,
    ...(t.surveyInvalid ? { invalid: t.surveyInvalid } : {}),
    ...(t.surveyThanks ? { thanks: t.surveyThanks } : {}),
  };
}

/** The rating question: five options worst first, each sending back its number; the options listed for text. */
export function ratingQuestion(texts: SurveyTexts): Question {
  return {
    text: texts.question,
    options: texts.labels.map((text, i) => ({ text, value: String(i + 1) })),
    fallback: [texts.question, ...texts.labels, texts.hint].join('\n'),
  };
}
