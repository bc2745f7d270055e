import type { z } from 'zod';
import { PermanentError } from '../../core/errors';

/**
 * Validates a vendor's response body at the edge: the parsed value, or a PermanentError
 * (`<VENDOR>_BAD_RESPONSE`) naming the call and the first mismatch, never the body itself.
 */
export function parseVendorResponse<S extends z.ZodType>(
  vendor: string,
  call: string,
  schema: S,
  body: unknown,
): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new PermanentError(
    `${vendor} ${call}: unexpected response shape (${issue?.path.join('.') || 'body'}: ${issue?.message})`,
    `${vendor.toUpperCase()}_BAD_RESPONSE`,
  );
}
