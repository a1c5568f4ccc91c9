/** Client calls of the flag routes (src/api/routes-flags.ts). */
import type { StaleFlag } from '../flags/stale.js';
import type { CreatedFlagKey } from '../flags/flag-keys.js';
import type { FlagDetail, FlagStateResult, FlagView } from '../flags/flags.js';
import type { ImportResult } from '../flags/import.js';
import type { CreateFlagBody, CreateKeyBody, RolloutBody, UpdateFlagBody } from '../flags/inputs.js';
import type { FlagEnvState, FlagKeyRecord, FlagRecord } from '../store/flags-types.js';
import type { ApiClient } from './client.js';

export type { CreatedFlagKey, FlagDetail, FlagEnvState, FlagKeyRecord, FlagRecord, FlagStateResult, FlagView, ImportResult };

const e = encodeURIComponent;
const appPath = (app: string) => `/v1/apps/${e(app)}`;
const flagPath = (app: string, flag: string) => `${appPath(app)}/flags/${e(flag)}`;
const envFlags = (app: string, env: string) => `${appPath(app)}/envs/${e(env)}/flags`;

export const flagsClient = (c: ApiClient) => ({
  stale: (app: string, days?: number): Promise<StaleFlag[]> => c.request('GET', `${appPath(app)}/stale-flags`, { query: days === undefined ? {} : { days: String(days) } }),
  list: (app: string, archived = false): Promise<FlagView[]> => c.request('GET', `${appPath(app)}/flags`, { query: archived ? { archived: 'true' } : {} }),
  get: (app: string, flag: string): Promise<FlagDetail> => c.request('GET', flagPath(app, flag)),
  create: (app: string, body: CreateFlagBody): Promise<FlagRecord> => c.request('POST', `${appPath(app)}/flags`, { body }),
  update: (app: string, flag: string, body: UpdateFlagBody): Promise<FlagRecord> => c.request('PATCH', flagPath(app, flag), { body }),
  archive: (app: string, flag: string): Promise<FlagRecord> => c.request('POST', `${flagPath(app, flag)}/archive`),
  state: (app: string, env: string): Promise<FlagEnvState> => c.request('GET', envFlags(app, env)),
  set: (app: string, env: string, flag: string, feature: unknown): Promise<FlagStateResult> => c.request('PUT', `${envFlags(app, env)}/${e(flag)}`, { body: feature }),
  enable: (app: string, env: string, flag: string): Promise<FlagStateResult> => c.request('POST', `${envFlags(app, env)}/${e(flag)}/enable`),
  disable: (app: string, env: string, flag: string): Promise<FlagStateResult> => c.request('POST', `${envFlags(app, env)}/${e(flag)}/disable`),
  rollout: (app: string, env: string, flag: string, body: RolloutBody): Promise<FlagStateResult> => c.request('POST', `${envFlags(app, env)}/${e(flag)}/rollout`, { body }),
  import: (app: string, env: string, file: unknown): Promise<ImportResult> => c.request('POST', `${envFlags(app, env)}/import`, { body: file }),
  listKeys: (app: string, env?: string): Promise<FlagKeyRecord[]> => c.request('GET', `${appPath(app)}/flag-keys`, { query: { env } }),
  createKey: (app: string, env: string, body: CreateKeyBody): Promise<CreatedFlagKey> => c.request('POST', `${appPath(app)}/envs/${e(env)}/flag-keys`, { body }),
  revokeKey: (app: string, env: string, id: string): Promise<FlagKeyRecord> => c.request('DELETE', `${appPath(app)}/envs/${e(env)}/flag-keys/${e(id)}`),
});
