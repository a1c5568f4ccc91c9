/** What the flag rollout tests share: raw calls with their status, the trail, waiting on a rollout. */
import assert from 'node:assert/strict';
import type { RolloutView } from '../flags/rollouts.js';
import type { FlagEnvState } from '../store/flags-types.js';
import { until } from './split-platform.js';

export interface Answer {
  status: number;
  json: { error?: { code: string; message: string; details?: { problems?: { path: string; message: string }[] } } } & Record<string, unknown>;
}

export interface Entry {
  seq: number;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  before: unknown;
  after: unknown;
}

export interface StepAfter {
  rollout: string;
  step: number;
  of: number;
  percent: number;
  state: { enabled: boolean; strategies?: { name: string; parameters?: Record<string, string> }[] };
}

/** One API call with a JSON body (`raw`: the body's text as sent, for malformed bodies) and its JSON answer. */
export async function callJson(url: string, token: string, method: string, path: string, body?: unknown, raw?: string): Promise<Answer> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Answer['json']) : {} };
}

export class RolloutApi {
  constructor(
    readonly url: string,
    readonly token: string,
    readonly app = 'shop',
  ) {}

  call(method: string, path: string, body?: unknown): Promise<Answer> {
    return callJson(this.url, this.token, method, path, body);
  }

  async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.call(method, path, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 400)}`);
    return r.json as T;
  }

  flagPath(env: string, flag: string): string {
    return `/v1/apps/${this.app}/envs/${env}/flags/${flag}`;
  }

  async createFlag(name: string): Promise<void> {
    await this.ok('POST', `/v1/apps/${this.app}/flags`, { name });
  }

  start(env: string, flag: string, body: unknown): Promise<Answer> {
    return this.call('POST', `${this.flagPath(env, flag)}/rollouts`, body);
  }

  async rollouts(env: string, flag: string): Promise<RolloutView[]> {
    return this.ok<RolloutView[]>('GET', `${this.flagPath(env, flag)}/rollouts`);
  }

  async latest(env: string, flag: string): Promise<RolloutView> {
    const [r] = await this.rollouts(env, flag);
    assert.ok(r, `a rollout of ${flag} in ${env}`);
    return r;
  }

  /** Waits until the flag's newest rollout satisfies `ok`. */
  waitFor(env: string, flag: string, what: string, ok: (r: RolloutView) => boolean, timeoutMs = 30_000): Promise<RolloutView> {
    return until(what, async () => {
      const r = await this.latest(env, flag);
      return ok(r) ? r : null;
    }, timeoutMs);
  }

  state(env: string): Promise<FlagEnvState> {
    return this.ok<FlagEnvState>('GET', `/v1/apps/${this.app}/envs/${env}/flags`);
  }

  /** The flexibleRollout percentage of the flag as delivered, and whether it is on. */
  async delivered(env: string, flag: string): Promise<{ enabled: boolean; percent: string | undefined } | null> {
    const f = (await this.state(env)).state.features.find((x) => x.name === flag);
    return f ? { enabled: f.enabled, percent: f.strategies?.find((s) => s.name === 'flexibleRollout')?.parameters?.rollout as string | undefined } : null;
  }

  /** Every entry of the trail after `seq`, oldest first. */
  async trail(after = 0): Promise<Entry[]> {
    const out: Entry[] = [];
    for (;;) {
      const page = await this.ok<Entry[]>('GET', `/v1/audit?after=${out.at(-1)?.seq ?? after}&limit=1000`);
      out.push(...page);
      if (page.length < 1000) return out;
    }
  }

  async lastSeq(): Promise<number> {
    return (await this.ok<Entry[]>('GET', '/v1/audit?limit=1'))[0]?.seq ?? 0;
  }

  /** The steps of one rollout on the trail, in order. */
  async steps(rolloutId: string): Promise<(Entry & { after: StepAfter })[]> {
    return (await this.trail()).filter((e): e is Entry & { after: StepAfter } => e.action === 'flag.rollout.step' && (e.after as StepAfter | null)?.rollout === rolloutId);
  }
}

/** Asserts a rollout's steps were each applied once, in order, by the platform on behalf of its starter. */
export function assertStepsOnce(steps: (Entry & { after: StepAfter })[], r: RolloutView): void {
  assert.deepEqual(
    steps.map((e) => e.after.percent),
    r.steps,
    'every step on the trail exactly once, in order',
  );
  assert.deepEqual(steps.map((e) => e.after.step), r.steps.map((_, i) => i + 1));
  for (const e of steps) {
    assert.equal(e.actor, `system (rollout ${r.id} started by ${r.startedBy})`);
    assert.equal(e.outcome, 'ok');
    assert.equal(e.after.state.strategies?.find((s) => s.name === 'flexibleRollout')?.parameters?.rollout, String(e.after.percent), 'the entry shows the state after');
  }
  for (let i = 1; i < steps.length; i++) {
    const before = steps[i]!.before as StepAfter['state'];
    assert.equal(before.strategies?.find((s) => s.name === 'flexibleRollout')?.parameters?.rollout, String(steps[i - 1]!.after.percent), 'and the state before');
  }
}
