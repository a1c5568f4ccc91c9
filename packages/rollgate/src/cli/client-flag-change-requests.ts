/** Client calls of the change request and kill switch routes (src/api/routes-flag-change-requests.ts). */
import type { ChangeRequestState, ChangeRequestView } from '../flags/change-requests.js';
import type { FlagStateResult } from '../flags/flags.js';
import type { ChangeRequestAction } from '../store/flag-change-requests-types.js';
import type { ApiClient } from './client.js';

export type { ChangeRequestView };

export interface Proposal {
  action: ChangeRequestAction;
  percent?: number | undefined;
  strategy?: number | string | undefined;
  state?: unknown;
  /** For steps: as `flags rollout --steps --every` sends it. */
  rollout?: { steps: number[]; every: string; variant?: string; guard?: boolean; control?: string } | undefined;
  reason: string;
  expires?: string | undefined;
}

const e = encodeURIComponent;
const flagPath = (app: string, env: string, flag: string) => `/v1/apps/${e(app)}/envs/${e(env)}/flags/${e(flag)}`;
const crPath = (id: string) => `/v1/flag-change-requests/${e(id)}`;
const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export const changeRequestsClient = (c: ApiClient) => ({
  propose: (app: string, env: string, flag: string, body: Proposal): Promise<ChangeRequestView> => c.request('POST', `${flagPath(app, env, flag)}/change-requests`, { body: defined(body) }),
  list: (q: { app?: string | undefined; env?: string | undefined; flag?: string | undefined; status?: ChangeRequestState | 'all' | undefined }): Promise<ChangeRequestView[]> => c.request('GET', '/v1/flag-change-requests', { query: q }),
  get: (id: string): Promise<ChangeRequestView> => c.request('GET', crPath(id)),
  approve: (id: string, reason?: string): Promise<ChangeRequestView> => c.request('POST', `${crPath(id)}/approve`, { body: defined({ reason }) }),
  reject: (id: string, reason: string): Promise<ChangeRequestView> => c.request('POST', `${crPath(id)}/reject`, { body: { reason } }),
  cancel: (id: string): Promise<ChangeRequestView> => c.request('POST', `${crPath(id)}/cancel`),
  kill: (app: string, env: string, flag: string, reason?: string): Promise<FlagStateResult> => c.request('POST', `${flagPath(app, env, flag)}/kill`, { body: defined({ reason }) }),
});
