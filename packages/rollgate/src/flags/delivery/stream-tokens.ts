/**
 * The OFREP event-stream URL names its SDK key without holding it: browsers' EventSource cannot
 * send headers, so the URL carries `<key id>.<HMAC of the id>` under a key of this server
 * process. The URL is useless without the server's secret, names no key value, and stops
 * working when the key is revoked (checked at every connect) or the server restarts (the
 * provider then fetches the bulk evaluation again and gets a new URL).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FLAG_KEY_ID_RE } from '../keys.js';

export class StreamTokens {
  private readonly secret = randomBytes(32);

  issue(keyId: string): string {
    return `${keyId}.${this.mac(keyId)}`;
  }

  /** The key id a token names, or null when it is not one of ours. */
  verify(token: string): string | null {
    const dot = token.indexOf('.');
    if (dot < 0) return null;
    const id = token.slice(0, dot);
    if (!FLAG_KEY_ID_RE.test(id)) return null;
    const given = Buffer.from(token.slice(dot + 1));
    const want = Buffer.from(this.mac(id));
    return given.length === want.length && timingSafeEqual(given, want) ? id : null;
  }

  private mac(id: string): string {
    return createHmac('sha256', this.secret).update(id).digest('base64url');
  }
}
