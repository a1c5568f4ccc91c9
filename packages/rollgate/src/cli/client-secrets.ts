/** Client calls of the secret routes (src/api/routes-secrets.ts). A value only ever goes in a request body. */
import type { SecretRemoveResult, SecretRotateResult, SecretSetResult } from '../engine/secrets/secrets.js';
import type { SecretVersionMeta } from '../store/secrets-types.js';
import type { ApiClient } from './client.js';

export type { SecretRemoveResult, SecretRotateResult, SecretSetResult, SecretVersionMeta };

function secretPath(app: string, env: string, name: string): string {
  return `/v1/apps/${encodeURIComponent(app)}/envs/${encodeURIComponent(env)}/secrets/${encodeURIComponent(name)}`;
}

async function* body(value: Uint8Array): AsyncIterable<Uint8Array> {
  yield value;
}

export function setSecret(client: ApiClient, app: string, env: string, name: string, value: Uint8Array): Promise<SecretSetResult> {
  return client.request('PUT', secretPath(app, env, name), { raw: body(value), contentType: 'application/octet-stream' });
}

export function rotateSecret(client: ApiClient, app: string, env: string, name: string, value: Uint8Array): Promise<SecretRotateResult> {
  return client.request('POST', `${secretPath(app, env, name)}/rotate`, { raw: body(value), contentType: 'application/octet-stream' });
}

export function removeSecret(client: ApiClient, app: string, env: string, name: string): Promise<SecretRemoveResult> {
  return client.request('DELETE', secretPath(app, env, name));
}

/** Names, versions and times (never values), by environment then name. */
export function listSecrets(client: ApiClient, app: string, env?: string): Promise<SecretVersionMeta[]> {
  return client.request('GET', `/v1/apps/${encodeURIComponent(app)}/secrets`, { query: { env } });
}
