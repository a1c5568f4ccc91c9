/** Table types of the secrets tables (migration 0006). */

/**
 * One version of one secret of an app in an environment. Only ciphertext is stored: the value
 * is AES-256-GCM encrypted (engine/secrets/crypto.ts) before it reaches the store; nonce,
 * ciphertext and tag are base64 text so both dialects store and compare them alike.
 */
export interface SecretsTable {
  app: string;
  env: string;
  name: string;
  /** 1, 2, …: a rotation adds a version; the current one is the highest not deleted. */
  version: number;
  /** Which master key sealed it (`v1.<fingerprint>`), for a future key rotation. */
  key_id: string;
  nonce: string;
  ciphertext: string;
  tag: string;
  created_at: string;
  created_by: string;
  deleted_at: string | null;
}

export interface SecretsTables {
  secrets: SecretsTable;
}
