/**
 * Typed client of the control-plane HTTP API (src/api/contract.ts): one method per route.
 * `{error}` answers become ApiError (code, message, status); a server that cannot be reached
 * becomes RollgateError('unavailable') naming the URL.
 */
import { TRUNCATED_EVENT } from '../api/event-replay.js';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { z } from 'zod';
import type { DeploymentRecord, EventRecord } from '../core/domain.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import type { AppSummary, DeployRequest, DeploymentView, LogLine, ReleaseRecord, RollbackRequest, ServiceStatus } from '../api/contract.js';
import type { InjectFaultRequest, KillRequestBody, StopChaosRequest } from '../api/routes-chaos.js';
import type { IncidentView, OpenIncidentRequest } from '../api/routes-incidents.js';
import type { ChaosRecord } from '../core/incidents.js';
import type { DoraResult } from '../dora/load.js';
import type { PipelineRunRecord, StageLogLine } from '../core/pipeline.js';
import type { RunView } from '../engine/pipeline/pipelines.js';
import type { AppliedSpecView } from '../api/spec-view.js';
import type { PruneResult, ReleaseView } from '../engine/release-retention.js';
import type { PruneRequest } from '../api/routes-releases.js';
import { ApiError } from './exit.js';
import { parseSse, type SseMessage } from './sse.js';

export interface EnvironmentView {
  name: string;
  listen: string | number;
  spec: unknown;
}

export type DeploymentAction = 'promote' | 'pause' | 'resume' | 'abort' | 'fail';

export interface ReleaseUpload {
  version?: string | undefined;
  commitSha?: string | undefined;
  commitTime?: string | undefined;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Streamed as is (with contentType), instead of body. */
  raw?: AsyncIterable<Uint8Array>;
  contentType?: string;
  timeoutMs?: number;
  /** 'text': the answer's body as a string (e.g. JSON lines), not parsed. */
  as?: 'json' | 'text';
}

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });

const TIMEOUT_MS = 30_000;
/** The server hashes and unpacks an upload before answering. */
const UPLOAD_TIMEOUT_MS = 300_000;

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | null,
  ) {}

  health(): Promise<{ ok: boolean; version: string; dialect: string }> {
    return this.call('GET', '/v1/health');
  }
  applySpec(spec: unknown): Promise<{ apps: string[]; environments: string[] }> {
    return this.call('POST', '/v1/spec', { body: { spec } });
  }
  /** The spec as the server holds it (needs only `read`). */
  appliedSpec(): Promise<AppliedSpecView> {
    return this.call('GET', '/v1/spec');
  }
  apps(): Promise<AppSummary[]> {
    return this.call('GET', '/v1/apps');
  }
  environments(): Promise<EnvironmentView[]> {
    return this.call('GET', '/v1/environments');
  }
  releases(app: string): Promise<ReleaseView[]> {
    return this.call('GET', `/v1/apps/${encodeURIComponent(app)}/releases`);
  }
  pruneReleases(app: string, req: PruneRequest): Promise<PruneResult> {
    return this.call('POST', `/v1/apps/${encodeURIComponent(app)}/releases/prune`, { body: req });
  }
  /** Streams a tar.gz to the server (never held whole in memory). */
  uploadRelease(app: string, archive: AsyncIterable<Uint8Array>, meta: ReleaseUpload): Promise<ReleaseRecord> {
    return this.call('POST', `/v1/apps/${encodeURIComponent(app)}/releases`, {
      query: { version: meta.version, commitSha: meta.commitSha, commitTime: meta.commitTime },
      raw: archive,
      contentType: 'application/gzip',
      timeoutMs: UPLOAD_TIMEOUT_MS,
    });
  }
  deploy(req: DeployRequest): Promise<DeploymentView> {
    return this.call('POST', '/v1/deployments', { body: req });
  }
  deployments(q: { app?: string | undefined; env?: string | undefined; limit?: number | undefined } = {}): Promise<DeploymentRecord[]> {
    return this.call('GET', '/v1/deployments', { query: q });
  }
  deployment(id: string): Promise<DeploymentView> {
    return this.call('GET', `/v1/deployments/${encodeURIComponent(id)}`);
  }
  act(id: string, action: DeploymentAction, body: unknown = {}): Promise<DeploymentView> {
    return this.call('POST', `/v1/deployments/${encodeURIComponent(id)}/${action}`, { body });
  }
  dora(q: { app?: string | undefined; env?: string | undefined; since: string }): Promise<DoraResult> {
    return this.call('GET', '/v1/dora', { query: q, timeoutMs: 60_000 });
  }
  retry(req: { app: string; env: string }): Promise<DeploymentView> {
    return this.call('POST', '/v1/retry', { body: req });
  }
  rollback(req: RollbackRequest): Promise<DeploymentView> {
    return this.call('POST', '/v1/rollback', { body: req });
  }
  status(q: { app?: string | undefined; env?: string | undefined } = {}): Promise<ServiceStatus[]> {
    return this.call('GET', '/v1/status', { query: q });
  }
  logs(q: { app: string; env: string; version?: string | undefined; instance?: string | undefined; tail?: number | undefined }): Promise<{ lines: LogLine[] }> {
    return this.call('GET', '/v1/logs', { query: q });
  }

  /** The tail, then 'live', then new lines (SSE) until `signal` aborts or the server ends the stream. */
  async *followLogs(q: { app: string; env: string; version?: string | undefined; instance?: string | undefined; tail?: number | undefined }, signal: AbortSignal): AsyncGenerator<LogLine | 'live'> {
    for await (const msg of this.sse(this.url('/v1/logs/stream', q), signal)) {
      if (msg.event === 'end') return;
      if (msg.event === 'live') yield 'live';
      if (msg.event === 'line' && msg.data !== '') yield JSON.parse(msg.data) as LogLine;
    }
  }

  // pipelines
  startRun(target: { pipeline: string } | { app: string }, opts: { archive?: AsyncIterable<Uint8Array> | undefined; ref?: string | undefined; version?: string | undefined; commitSha?: string | undefined; commitTime?: string | undefined }): Promise<RunView> {
    const path = 'pipeline' in target ? `/v1/pipelines/${encodeURIComponent(target.pipeline)}/runs` : `/v1/apps/${encodeURIComponent(target.app)}/runs`;
    const query = { ref: opts.ref, version: opts.version, commitSha: opts.commitSha, commitTime: opts.commitTime };
    if (opts.archive) return this.call('POST', path, { query, raw: opts.archive, contentType: 'application/gzip', timeoutMs: UPLOAD_TIMEOUT_MS });
    return this.call('POST', path, { query });
  }
  runs(q: { pipeline?: string | undefined; app?: string | undefined; status?: string | undefined; limit?: number | undefined } = {}): Promise<PipelineRunRecord[]> {
    return this.call('GET', '/v1/runs', { query: q });
  }
  run(id: string): Promise<RunView> {
    return this.call('GET', `/v1/runs/${encodeURIComponent(id)}`);
  }
  runLogs(id: string, q: { stage?: string | undefined; after?: number | undefined; limit?: number | undefined } = {}): Promise<{ lines: StageLogLine[] }> {
    return this.call('GET', `/v1/runs/${encodeURIComponent(id)}/logs`, { query: q });
  }
  runAction(id: string, action: 'approve' | 'reject' | 'cancel' | 'retry', body: unknown = {}): Promise<RunView> {
    return this.call('POST', `/v1/runs/${encodeURIComponent(id)}/${action}`, { body });
  }
  /** Live stage log lines (SSE) until the run ends or `signal` aborts. */
  async *followRunLogs(id: string, opts: { stage?: string | undefined; after?: number | undefined; signal: AbortSignal }): AsyncGenerator<StageLogLine> {
    for await (const msg of this.sse(this.url(`/v1/runs/${encodeURIComponent(id)}/logs/stream`, { stage: opts.stage, after: opts.after }), opts.signal)) {
      if (msg.event === 'end') return;
      if (msg.event === 'line' && msg.data !== '') yield JSON.parse(msg.data) as StageLogLine;
    }
  }

  // incidents
  incidents(q: { app?: string | undefined; env?: string | undefined; status?: 'open' | 'resolved' | 'all' | undefined; source?: string | undefined; limit?: number | undefined } = {}): Promise<IncidentView[]> {
    return this.call('GET', '/v1/incidents', { query: q });
  }
  incident(id: string): Promise<IncidentView> {
    return this.call('GET', `/v1/incidents/${encodeURIComponent(id)}`);
  }
  openIncident(req: OpenIncidentRequest): Promise<IncidentView> {
    return this.call('POST', '/v1/incidents', { body: req });
  }
  resolveIncident(id: string, resolution?: string): Promise<IncidentView> {
    return this.call('POST', `/v1/incidents/${encodeURIComponent(id)}/resolve`, { body: resolution === undefined ? {} : { resolution } });
  }

  // chaos
  chaosInject(req: InjectFaultRequest): Promise<ChaosRecord> {
    return this.call('POST', '/v1/chaos/inject', { body: req });
  }
  chaosKill(req: KillRequestBody): Promise<ChaosRecord> {
    return this.call('POST', '/v1/chaos/kill', { body: req });
  }
  chaosStop(req: StopChaosRequest): Promise<{ stopped: ChaosRecord[]; cleared: number }> {
    return this.call('POST', '/v1/chaos/stop', { body: req });
  }
  chaos(q: { app?: string | undefined; env?: string | undefined; status?: 'active' | 'stopped' | 'expired' | undefined; limit?: number | undefined } = {}): Promise<ChaosRecord[]> {
    return this.call('GET', '/v1/chaos', { query: q });
  }

  /** The platform event stream (SSE). Ends when `signal` aborts or the server closes it. */
  async *events(opts: { after?: number | 'latest' | undefined; signal: AbortSignal; onOpen?: () => void }): AsyncGenerator<EventRecord> {
    for await (const msg of this.sse(this.url('/v1/events', { after: opts.after }), opts.signal, opts.onOpen)) {
      // The replay.truncated marker is no EventRecord; a follower only wants what happens next.
      if (msg.data === '' || msg.event === TRUNCATED_EVENT) continue;
      let ev: unknown;
      try {
        ev = JSON.parse(msg.data);
      } catch {
        continue; // a comment or keep-alive payload, not an event
      }
      yield ev as EventRecord;
    }
  }

  /**
   * Any route, for the client-<part>.ts files: same auth, errors and timeouts as the methods
   * above. An empty answer (204) resolves to undefined.
   */
  request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
    return this.call<T>(method, path, opts);
  }

  /** Messages of a text/event-stream until it ends or `signal` aborts. */
  private async *sse(url: string, signal: AbortSignal, onOpen?: () => void): AsyncGenerator<SseMessage> {
    let res;
    try {
      res = await request(url, {
        method: 'GET',
        headers: { ...this.authHeaders(), accept: 'text/event-stream' },
        signal,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: 0, // a quiet stream is not an error
      });
    } catch (e) {
      throw this.unreachable(e);
    }
    if (res.statusCode >= 400) throw await this.errorFrom(res.statusCode, await res.body.text());
    onOpen?.();
    try {
      yield* parseSse(res.body);
    } finally {
      res.body.destroy();
    }
  }

  private async call<T>(
    method: Method,
    path: string,
    opts: RequestOptions = {},
  ): Promise<T> {
    const headers: Record<string, string> = { ...this.authHeaders(), accept: opts.as === 'text' ? '*/*' : 'application/json' };
    let body: string | Readable | undefined;
    if (opts.raw !== undefined) {
      body = Readable.from(opts.raw, { objectMode: false });
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res;
    try {
      res = await request(this.url(path, opts.query), {
        method,
        headers,
        body,
        headersTimeout: opts.timeoutMs ?? TIMEOUT_MS,
        bodyTimeout: opts.timeoutMs ?? TIMEOUT_MS,
      });
    } catch (e) {
      if (e instanceof RollgateError) throw e; // raised by the body stream (e.g. a symlink check while packing)
      throw this.unreachable(e);
    }
    const text = await res.body.text();
    if (res.statusCode >= 400) throw await this.errorFrom(res.statusCode, text);
    if (opts.as === 'text') return text as T;
    if (text === '' && (res.statusCode === 204 || method === 'DELETE')) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('bad_response', `the server at ${this.baseUrl} answered ${method} ${path} with something that is not JSON; is it a Rollgate server?`, 502);
    }
  }

  private url(path: string, query?: Query): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
    return u.toString();
  }

  private authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private async errorFrom(status: number, text: string): Promise<ApiError> {
    let parsed: z.infer<typeof ErrorBody> | null = null;
    try {
      const r = ErrorBody.safeParse(JSON.parse(text));
      if (r.success) parsed = r.data;
    } catch {
      // not JSON: fall through to a generic message
    }
    if (status === 401 && !this.token) {
      return new ApiError(
        'unauthorized',
        `the server at ${this.baseUrl} wants an API token and none was found; set ROLLGATE_TOKEN, or run from the directory whose .rollgate/api.token \`rollgate up\` wrote`,
        401,
      );
    }
    if (parsed) return new ApiError(parsed.error.code, parsed.error.message, status, parsed.error.details);
    return new ApiError(`http_${status}`, `the server at ${this.baseUrl} answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`, status);
  }

  private unreachable(e: unknown): RollgateError {
    const cause = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : errorMessage(e);
    return new RollgateError(
      'unavailable',
      `cannot reach the Rollgate server at ${this.baseUrl} (${cause}); start it with \`rollgate up\`, or point --server / ROLLGATE_SERVER at it`,
    );
  }
}
