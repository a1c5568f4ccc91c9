/**
 * Generic webhook signed per the Standard Webhooks specification
 * (https://www.standardwebhooks.com): `webhook-id` (same across retries, receivers dedupe on
 * it), `webhook-timestamp` (unix seconds, per attempt), `webhook-signature` =
 * `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), where the key is the base64
 * part of the `whsec_…` secret, decoded.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { RollgateError } from '../core/errors.js';
import { postJson, secretPartsOfUrl } from './http.js';
import type { DeliveryResult, Notification, Notifier } from './types.js';

const PREFIX = 'whsec_';
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The HMAC key inside a `whsec_` secret. Throws a RollgateError saying how to make a good one. */
export function decodeWebhookSecret(secret: string): Buffer {
  const how = `generate one with: node -e "console.log('whsec_'+require('crypto').randomBytes(32).toString('base64'))"`;
  if (!secret.startsWith(PREFIX)) throw new RollgateError('invalid_input', `webhook secret must start with "${PREFIX}" followed by base64 (Standard Webhooks); ${how}`);
  const b64 = secret.slice(PREFIX.length);
  if (!B64.test(b64) || b64.length % 4 !== 0) throw new RollgateError('invalid_input', `webhook secret after "${PREFIX}" is not valid base64; ${how}`);
  const key = Buffer.from(b64, 'base64');
  if (key.length < 24 || key.length > 64) throw new RollgateError('invalid_input', `webhook secret key is ${key.length} bytes; Standard Webhooks asks for 24 to 64; ${how}`);
  return key;
}

export function generateWebhookSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** The `webhook-signature` header value for one message. */
export function signWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  const mac = createHmac('sha256', decodeWebhookSecret(secret)).update(`${id}.${timestampSec}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The JSON body: the Standard Webhooks recommended envelope `{ type, timestamp, data }`. */
export function webhookPayload(n: Notification): { type: string; timestamp: string; data: Omit<Notification, 'type' | 'at'> } {
  const { type, at, ...rest } = n;
  return { type, timestamp: at, data: rest };
}

export interface WebhookNotifierOptions {
  url: string;
  secret: string;
  http?: Dispatcher | undefined;
  /** Clock for the timestamp header (tests). */
  now?: () => number;
}

export class WebhookNotifier implements Notifier {
  readonly kind = 'webhook' as const;
  private readonly redact: string[];

  constructor(private readonly o: WebhookNotifierOptions) {
    decodeWebhookSecret(o.secret); // fail at configuration time, not at the first event
    this.redact = [o.secret, o.secret.slice(PREFIX.length), ...secretPartsOfUrl(o.url, false)];
  }

  deliver(n: Notification, signal: AbortSignal): Promise<DeliveryResult> {
    const body = JSON.stringify(webhookPayload(n));
    const id = `msg_${n.id}`;
    const ts = Math.floor((this.o.now?.() ?? Date.now()) / 1000);
    return postJson({
      url: this.o.url,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': signWebhook(this.o.secret, id, ts, body),
      },
      body,
      signal,
      http: this.o.http,
      redact: this.redact,
    });
  }
}
