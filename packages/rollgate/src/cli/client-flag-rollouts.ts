/** Client calls of the flag rollout and schedule routes (src/api/routes-flag-rollouts.ts). */
import type { AbortRolloutBody } from '../flags/rollout-inputs.js';
import type { RolloutView } from '../flags/rollouts.js';
import type { FlagScheduleAction, FlagScheduleRecord } from '../store/flag-rollouts-types.js';
import type { ApiClient } from './client.js';

export type { FlagScheduleRecord, RolloutView };

const e = encodeURIComponent;
const flagPath = (app: string, env: string, flag: string) => `/v1/apps/${e(app)}/envs/${e(env)}/flags/${e(flag)}`;

/** The body as sent: `every` stays the duration text the user wrote (the server parses it). */
export interface StartRollout {
  steps: number[];
  every: string;
  variant?: string;
  guard?: boolean;
}

export const flagRolloutsClient = (c: ApiClient) => ({
  start: (app: string, env: string, flag: string, body: StartRollout): Promise<RolloutView> => c.request('POST', `${flagPath(app, env, flag)}/rollouts`, { body }),
  history: (app: string, env: string, flag: string): Promise<RolloutView[]> => c.request('GET', `${flagPath(app, env, flag)}/rollouts`),
  act: (app: string, env: string, flag: string, verb: 'pause' | 'resume'): Promise<RolloutView> => c.request('POST', `${flagPath(app, env, flag)}/rollouts/${verb}`),
  abort: (app: string, env: string, flag: string, body: AbortRolloutBody): Promise<RolloutView> => c.request('POST', `${flagPath(app, env, flag)}/rollouts/abort`, { body }),
  active: (q: { app?: string | undefined; env?: string | undefined } = {}): Promise<RolloutView[]> => c.request('GET', '/v1/flag-rollouts', { query: q }),
  schedule: (app: string, env: string, flag: string, body: { at: string; action: FlagScheduleAction; percent?: number }): Promise<FlagScheduleRecord> => c.request('POST', `${flagPath(app, env, flag)}/schedules`, { body }),
  schedules: (app: string, env: string, all = false): Promise<FlagScheduleRecord[]> => c.request('GET', `/v1/apps/${e(app)}/envs/${e(env)}/flag-schedules`, { query: all ? { all: 'true' } : {} }),
  cancel: (app: string, env: string, flag: string, id: string): Promise<FlagScheduleRecord> => c.request('DELETE', `${flagPath(app, env, flag)}/schedules/${e(id)}`),
});
