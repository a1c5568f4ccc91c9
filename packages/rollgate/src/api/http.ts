/** Edge helpers shared by every API route file: body reading, size limits, schema parsing. */
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { RollgateError } from '../core/errors.js';

/** Hono context variables set by the auth middleware. */
export type ApiEnv = { Variables: { actor: string } };

export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const detail = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : where}: ${i.message}`).join('; ');
  throw new RollgateError('invalid_input', `invalid ${where}: ${detail}`, { issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) });
}

export function jsonLimit(maxSize: number) {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new RollgateError('payload_too_large', `request body over ${Math.round(maxSize / 1024)} KiB; send less`);
    },
  });
}

/** The JSON body ({} when empty), or invalid_input saying how to send one. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RollgateError('invalid_input', 'request body is not valid JSON; send a JSON object with Content-Type: application/json');
  }
}
