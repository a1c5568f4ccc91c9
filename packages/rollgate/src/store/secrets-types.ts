/**
 * The secrets part of the Store (store.secrets): see store/secrets-queries.ts. The store only
 * ever sees ciphertext (sealed by engine/secrets/crypto.ts); listings carry no ciphertext at all.
 */

/** One version of a secret, without its value: what `secret list` shows. */
export interface SecretVersionMeta {
  app: string;
  env: string;
  name: string;
  version: number;
  createdAt: string;
  createdBy: string;
}

/** A stored version with its ciphertext, for decryption by the Secrets engine. */
export interface StoredSecret extends SecretVersionMeta {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export interface NewSecretVersion {
  app: string;
  env: string;
  name: string;
  /** Chosen by the caller (it is bound into the ciphertext): `lastSecretVersion + 1`. */
  version: number;
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  createdBy: string;
}

export interface SecretsStore {
  /** Highest version the name ever had (deleted versions count, so numbers are never reused); 0 for none. */
  lastSecretVersion(app: string, env: string, name: string): Promise<number>;
  /** Adds a version. `conflict` when that version exists (another writer took the number first). */
  addSecretVersion(v: NewSecretVersion): Promise<SecretVersionMeta>;
  /** The current (highest not deleted) version of one secret, or null. */
  currentSecret(app: string, env: string, name: string): Promise<StoredSecret | null>;
  /** The current version of every secret of an app in an environment, by name. */
  currentSecrets(app: string, env: string): Promise<StoredSecret[]>;
  /** Current versions, without ciphertext, by environment then name. */
  listSecrets(app: string, env?: string): Promise<SecretVersionMeta[]>;
  /** Marks every version of a secret deleted; returns the versions it marked (none: nothing was there). */
  deleteSecret(app: string, env: string, name: string): Promise<number[]>;
}
