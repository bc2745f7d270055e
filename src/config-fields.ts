import { z } from 'zod';

/** The zod builders the environment schema is written with: each says in its message what the value must be. */

export const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    )
    .optional();

export const whole = (what: string) => z.coerce.number({ error: `must be ${what}` }).int(`must be ${what}`);
export const portNumber = () =>
  whole('a port number (0-65535)')
    .min(0, 'must be a port number (0-65535)')
    .max(65_535, 'must be a port number (0-65535)');
export const port = (fallback: number) => portNumber().default(fallback);
export const positive = (fallback: number) =>
  whole('a positive whole number').positive('must be a positive whole number').default(fallback);
export const zeroOrMore = (fallback: number, what: string) =>
  whole(`a whole number of ${what}`).min(0, 'must be 0 or more').default(fallback);
export const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { error: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

/**
 * A BLiP access key is base64 (the portal shows it encoded). A key that is not makes BLiP drop the session without
 * an answer, so it is refused here, where the mistake can be named. Returns the problem, or undefined.
 */
export function accessKeyProblem(key: string): string | undefined {
  if (/^key\s/i.test(key))
    return 'must be the access key alone, without the "Key " prefix of an Authorization header';
  const body = key.replace(/=+$/, '');
  const padded = body.length < key.length;
  if (
    !/^[A-Za-z0-9+/]+$/.test(body) ||
    key.length - body.length > 2 ||
    body.length % 4 === 1 ||
    (padded && key.length % 4 !== 0)
  )
    return 'must be base64 (A-Z, a-z, 0-9, + and /, = padding), exactly as the portal shows it';
  return undefined;
}

export const accessKey = z.string().superRefine((key, ctx) => {
  const problem = accessKeyProblem(key);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
