/**
 * Typed HTTP client of the agent API, used by the control plane. Every answer is parsed with
 * zod; failures become RollgateError (`agent_unreachable` when the agent cannot be reached).
 */
import { z } from 'zod';
import type { RouteSpec, ServiceKey, ServiceObserved } from '../core/dataplane.js';
import {
  AgentEventSchema,
  AgentHealthSchema,
  FaultListSchema,
  FaultObservedSchema,
  FaultsClearedSchema,
  KillResultSchema,
  LogLineSchema,
  ServiceObservedSchema,
  type AgentEvent,
  type AgentHealth,
  type FaultObserved,
  type KillResult,
  type LogLine,
  type PutFaultBody,
  type PutServiceInput,
} from '../core/dataplane-schema.js';
import { RollgateError, type ErrorCode } from '../core/errors.js';

export interface AgentClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  token: string;
  /** Per-request timeout. */
  timeoutMs?: number;
}

/** Body of a service declaration; `listenHost`, `hosts` and `routes` may be left out. */
export type { PutServiceInput };

export interface EventStreamOptions {
  /** Called on each (re)connection, after the agent's hello. */
  onOpen?: () => void;
  /** Called when the stream fails; it reconnects by itself with backoff. */
  onError?: (e: RollgateError) => void;
}

const ERROR_CODES = new Set<string>([
  'invalid_spec', 'invalid_input', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'deployment_in_progress',
  'payload_too_large', 'unavailable', 'agent_unreachable', 'port_in_use', 'internal',
]);
const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const OkBody = z.object({ ok: z.boolean() });
const LogsBody = z.object({ lines: z.array(LogLineSchema) });

export class AgentClient {
  readonly url: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(opts: AgentClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  health(): Promise<AgentHealth> {
    return this.call('GET', '/v1/health', AgentHealthSchema);
  }

  putService(key: ServiceKey, body: PutServiceInput): Promise<ServiceObserved> {
    return this.call('PUT', servicePath(key), ServiceObservedSchema, body);
  }

  /** Every secret of a declared service (names left out are gone); the answer never carries values. */
  putSecrets(key: ServiceKey, secretEnv: Record<string, string>): Promise<ServiceObserved> {
    return this.call('PUT', `${servicePath(key)}/secrets`, ServiceObservedSchema, { secretEnv });
  }

  putRoutes(key: ServiceKey, routes: RouteSpec): Promise<ServiceObserved> {
    return this.call('PUT', `${servicePath(key)}/routes`, ServiceObservedSchema, routes);
  }

  /** Throws RollgateError `not_found` when the agent does not run this service. */
  getService(key: ServiceKey): Promise<ServiceObserved> {
    return this.call('GET', servicePath(key), ServiceObservedSchema);
  }

  /** Like getService, but null for an unknown service. */
  async findService(key: ServiceKey): Promise<ServiceObserved | null> {
    try {
      return await this.getService(key);
    } catch (e) {
      if (e instanceof RollgateError && e.code === 'not_found') return null;
      throw e;
    }
  }

  listServices(): Promise<ServiceObserved[]> {
    return this.call('GET', '/v1/services', z.array(ServiceObservedSchema));
  }

  async deleteService(key: ServiceKey): Promise<void> {
    await this.call('DELETE', servicePath(key), OkBody);
  }

  async logs(key: ServiceKey, q: { version?: string; instance?: string; tail?: number } = {}): Promise<LogLine[]> {
    const params = new URLSearchParams();
    if (q.version !== undefined) params.set('version', q.version);
    if (q.instance !== undefined) params.set('instance', q.instance);
    if (q.tail !== undefined) params.set('tail', String(q.tail));
    const qs = params.size > 0 ? `?${params}` : '';
    return (await this.call('GET', `${servicePath(key)}/logs${qs}`, LogsBody)).lines;
  }

  /**
   * New log lines of a service as the agent writes them, until `signal` aborts or the agent
   * closes the stream (then it resolves; the caller decides whether to follow again).
   * `onOpen` is called once the agent listens, so nothing written after it is missed.
   */
  async followLogs(key: ServiceKey, q: { version?: string | undefined; instance?: string | undefined }, onLine: (l: LogLine) => void, opts: { signal: AbortSignal; onOpen?: () => void }): Promise<void> {
    const params = new URLSearchParams();
    if (q.version !== undefined) params.set('version', q.version);
    if (q.instance !== undefined) params.set('instance', q.instance);
    const qs = params.size > 0 ? `?${params}` : '';
    let res: Response;
    try {
      res = await fetch(`${this.url}${servicePath(key)}/logs/stream${qs}`, { headers: this.headers(), signal: opts.signal });
    } catch (e) {
      if (opts.signal.aborted) return;
      throw this.asError(e);
    }
    if (!res.ok || !res.body) throw await this.errorFrom(res);
    try {
      await readSse(res.body, (event, data) => {
        if (event === 'hello') return opts.onOpen?.();
        if (event !== 'line') return;
        try {
          const parsed = LogLineSchema.safeParse(JSON.parse(data));
          if (parsed.success) onLine(parsed.data);
        } catch {
          // not a line
        }
      });
    } catch (e) {
      if (!opts.signal.aborted) throw this.asError(e);
    }
  }

  /** Chaos: the router fails `errorRate` of the version's requests and delays each by `latencyMs`, for `durationMs`. */
  setFault(key: ServiceKey, version: string, fault: PutFaultBody): Promise<FaultObserved> {
    return this.call('PUT', `${servicePath(key)}/faults/${encodeURIComponent(version)}`, FaultObservedSchema, fault);
  }

  /** Clears one version's fault, or every fault of the service; returns how many were in force. */
  async clearFaults(key: ServiceKey, version?: string): Promise<number> {
    const path = version === undefined ? `${servicePath(key)}/faults` : `${servicePath(key)}/faults/${encodeURIComponent(version)}`;
    return (await this.call('DELETE', path, FaultsClearedSchema)).cleared;
  }

  async listFaults(key: ServiceKey): Promise<FaultObserved[]> {
    return (await this.call('GET', `${servicePath(key)}/faults`, FaultListSchema)).faults;
  }

  /** Chaos: SIGKILLs one instance of the version (the agent restarts it as after a crash). */
  killInstance(key: ServiceKey, version: string): Promise<KillResult> {
    return this.call('POST', `${servicePath(key)}/versions/${encodeURIComponent(version)}/kill`, KillResultSchema);
  }

  /**
   * Follows instance state changes (Server-Sent Events). Reconnects after failures (backoff up to
   * 5s) until the returned function is called.
   */
  events(onEvent: (e: AgentEvent) => void, opts: EventStreamOptions = {}): () => void {
    const ctrl = new AbortController();
    let delay = 250;
    const loop = async () => {
      while (!ctrl.signal.aborted) {
        try {
          const res = await fetch(`${this.url}/v1/events`, { headers: this.headers(), signal: ctrl.signal });
          if (!res.ok || !res.body) throw await this.errorFrom(res);
          delay = 250;
          await readSse(res.body, (event, data) => {
            if (event === 'hello') opts.onOpen?.();
            if (event !== 'instance') return;
            let json: unknown;
            try {
              json = JSON.parse(data);
            } catch {
              return;
            }
            const parsed = AgentEventSchema.safeParse(json);
            if (parsed.success) onEvent(parsed.data);
          });
          if (!ctrl.signal.aborted) throw new RollgateError('agent_unreachable', `the agent at ${this.url} closed the event stream`);
        } catch (e) {
          if (ctrl.signal.aborted) return;
          opts.onError?.(this.asError(e));
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5000);
        }
      }
    };
    void loop();
    return () => ctrl.abort();
  }

  private headers(json = false): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...(json ? { 'content-type': 'application/json' } : {}) };
  }

  private async call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw this.asError(e);
    }
    if (!res.ok) throw await this.errorFrom(res);
    let json: unknown;
    try {
      json = await res.json();
    } catch (e) {
      throw new RollgateError('agent_unreachable', `the agent at ${this.url} sent an unreadable answer to ${method} ${path}: ${String(e)}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new RollgateError('internal', `the agent at ${this.url} answered ${method} ${path} with an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`);
    }
    return parsed.data;
  }

  private async errorFrom(res: Response): Promise<RollgateError> {
    let text = '';
    try {
      text = await res.text();
    } catch {
      // body unreadable; the status says enough
    }
    try {
      const parsed = ErrorBody.safeParse(JSON.parse(text));
      if (parsed.success) {
        const code = (ERROR_CODES.has(parsed.data.error.code) ? parsed.data.error.code : 'internal') as ErrorCode;
        return new RollgateError(code, parsed.data.error.message);
      }
    } catch {
      // not JSON
    }
    return new RollgateError(res.status === 401 ? 'unauthorized' : 'agent_unreachable', `the agent at ${this.url} answered ${res.status}: ${text.slice(0, 200)}`);
  }

  private asError(e: unknown): RollgateError {
    if (e instanceof RollgateError) return e;
    const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (err?.name === 'TimeoutError') return new RollgateError('agent_unreachable', `the agent at ${this.url} did not answer within ${this.timeoutMs}ms`);
    const why = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
    return new RollgateError('agent_unreachable', `cannot reach the agent at ${this.url} (${why}); is \`rollgate agent\` (or \`rollgate up\`) running?`);
  }
}

function servicePath(key: ServiceKey): string {
  return `/v1/services/${encodeURIComponent(key.env)}/${encodeURIComponent(key.app)}`;
}

/** Minimal SSE reader: calls `onMessage(event, data)` per dispatched message until the stream ends. */
async function readSse(body: ReadableStream<Uint8Array>, onMessage: (event: string, data: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buf = '';
  let event = 'message';
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length > 0) onMessage(event, data.join('\n'));
        event = 'message';
        data = [];
      } else if (line.startsWith(':')) {
        continue;
      } else {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
  }
}
