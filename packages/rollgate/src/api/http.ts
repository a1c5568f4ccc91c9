/** Edge helpers shared by every API route file: body reading, size limits, schema parsing. */
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { RollgateError } from '../core/errors.js';
import { decodeJsonBody } from './json-body.js';

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

export const DEFAULT_MAX_JSON_BYTES = 1024 * 1024;
/** Per request (HonoRequest outlives replacements of c.req.raw by other middleware). */
const decoded = new WeakMap<object, Promise<unknown>>();

/**
 * The request's JSON body ({} when empty), decoded strictly (api/json-body.ts) once per request:
 * the authorization check and the handler get the very same value, so a route whose scope comes
 * from its body is authorized on what the handler acts on.
 */
export function readJson(c: Context, maxBytes = DEFAULT_MAX_JSON_BYTES): Promise<unknown> {
  let body = decoded.get(c.req);
  if (!body) {
    body = bufferBody(c, maxBytes).then((buf) =>
      decodeJsonBody(buf, { contentType: c.req.header('content-type') ?? null, contentEncoding: c.req.header('content-encoding') ?? null }),
    );
    decoded.set(c.req, body);
  }
  return body;
}

/** Reads the raw body once, within `max` bytes (413 past it), and puts the bytes back for later middleware. */
async function bufferBody(c: Context, max: number): Promise<Uint8Array> {
  const raw = c.req.raw;
  if (!raw.body) return new Uint8Array();
  const tooLarge = () => new RollgateError('payload_too_large', `request body over ${Math.round(max / 1024)} KiB; send less`);
  const cl = raw.headers.get('content-length');
  if (cl !== null && !raw.headers.has('transfer-encoding') && Number(cl) > max) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = raw.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const buf = Buffer.concat(chunks);
  c.req.raw = new Request(raw, { body: buf });
  return buf;
}
