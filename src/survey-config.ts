import { z } from 'zod';
import type { SurveyOptions } from './core/handoff/survey';

/** The satisfaction survey's environment keys (issue 20 item 3), spread into the base schema. */
export const surveyConfigShape = {
  BRIDGE_SURVEY: z
    .enum(['off', 'bridge', 'main-bot'], { error: 'must be off, bridge or main-bot' })
    .default('off'),
  BRIDGE_SURVEY_TIMEOUT_SECONDS: z.coerce
    .number({ error: 'must be a whole number of seconds from 1 to 86400' })
    .int('must be a whole number of seconds from 1 to 86400')
    .min(1, 'must be a whole number of seconds from 1 to 86400')
    .max(86_400, 'must be a whole number of seconds from 1 to 86400')
    .default(300),
};

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is needed
const surveySchema = z.object(surveyConfigShape);
type Parsed = z.infer<typeof surveySchema>;

export function surveyConfigFrom(c: Parsed): SurveyOptions {
  return { mode: c.BRIDGE_SURVEY, timeoutMs: c.BRIDGE_SURVEY_TIMEOUT_SECONDS * 1000 };
}
