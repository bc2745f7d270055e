import type { AxiosInstance, AxiosRequestConfig } from 'axios';
import type { z } from 'zod';
import { PermanentError } from '../adapter';

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

/**
 * One vendor API call: the request, failures mapped to the core's error classes by `mapError`, the response body
 * validated with `schema`.
 */
export async function requestValidated<S extends z.ZodType>(
  http: AxiosInstance,
  vendor: string,
  call: string,
  schema: S,
  config: AxiosRequestConfig,
  mapError: (err: unknown) => Error,
): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = (await http.request(config)).data;
  } catch (err) {
    throw mapError(err);
  }
  return parseVendorResponse(vendor, call, schema, body);
}
