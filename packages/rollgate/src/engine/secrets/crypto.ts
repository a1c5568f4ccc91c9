/**
 * Secret values at rest: AES-256-GCM under a key derived from the master key, a fresh random
 * 96-bit nonce per encryption, and additional authenticated data binding each ciphertext to
 * its app, environment, name and version (a ciphertext copied onto another secret's row fails
 * to decrypt). Every ciphertext records the id of the key that sealed it (`v1.<fingerprint>`:
 * scheme version, then a fingerprint that reveals nothing about the key), so a future
 * master-key rotation can tell which rows still need re-encrypting.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { RollgateError } from '../../core/errors.js';
import { deriveKey } from './master-key.js';

/** What a ciphertext is bound to. */
export interface SecretAad {
  app: string;
  env: string;
  name: string;
  version: number;
}

export interface SealedSecret {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export const SECRETS_KEY_PURPOSE = 'secrets/aes-256-gcm/v1';
const KEY_ID_PURPOSE = 'secrets/key-id/v1';
const SCHEME = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function aadOf(keyId: string, a: SecretAad): Buffer {
  // JSON of an array: unambiguous whatever the names contain.
  return Buffer.from(JSON.stringify(['rollgate-secret', keyId, a.app, a.env, a.name, a.version]), 'utf8');
}

const where = (a: SecretAad) => `secret ${a.name} (version ${a.version}) of ${a.app} in ${a.env}`;

export class SecretCipher {
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(master: Buffer) {
    this.key = deriveKey(master, SECRETS_KEY_PURPOSE);
    const fingerprint = createHmac('sha256', deriveKey(master, KEY_ID_PURPOSE)).update('rollgate key id').digest('hex').slice(0, 16);
    this.keyId = `${SCHEME}.${fingerprint}`;
  }

  seal(plaintext: Buffer | string, aad: SecretAad): SealedSecret {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadOf(this.keyId, aad));
    const ciphertext = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
    return { keyId: this.keyId, nonce, ciphertext, tag: cipher.getAuthTag() };
  }

  /** The plaintext, or an error naming the secret (never any of its bytes) when it cannot be trusted. */
  open(s: SealedSecret, aad: SecretAad): Buffer {
    if (s.keyId !== this.keyId) {
      throw new RollgateError(
        'internal',
        `${where(aad)} was encrypted under another master key (key id ${s.keyId}; this server's is ${this.keyId}); start the server with the master key it was set with (ROLLGATE_MASTER_KEY or <data-dir>/master.key), or set the secret again`,
      );
    }
    if (s.nonce.length !== NONCE_BYTES || s.tag.length !== TAG_BYTES) {
      throw new RollgateError('internal', `${where(aad)} is stored damaged (nonce or tag of the wrong size); set the secret again`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, s.nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aadOf(s.keyId, aad));
      decipher.setAuthTag(s.tag);
      return Buffer.concat([decipher.update(s.ciphertext), decipher.final()]);
    } catch {
      throw new RollgateError('internal', `${where(aad)} failed its integrity check: the stored row was altered or belongs to another secret; set the secret again`);
    }
  }
}
