/**
 * The agent's control API (Hono). Every route but `/metrics` needs `Authorization: Bearer <token>`;
 * every body and parameter is parsed with zod; errors are `{ error: { code, message } }`.
 */
import { keyProblem } from '../api/json-body.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { ServiceKey } from '../core/dataplane.js';
import { describeIssues, LogsQuerySchema, NameParam, PutFaultBodySchema, PutSecretsBodySchema, PutServiceBodySchema, RouteSpecSchema, VersionName, type AgentEvent } from '../core/dataplane-schema.js';
import { isRollgateError, RollgateError } from '../core/errors.js';
import type { Agent } from './agent.js';

export interface ApiOptions {
  token: string;
  /** Interval of SSE keep-alive comments. */
  sseHeartbeatMs?: number;
}

/** Constant-time token check (hashing first makes the lengths equal). */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function serviceKey(c: Context): ServiceKey {
  const env = NameParam.safeParse(c.req.param('env'));
  if (!env.success) throw new RollgateError('invalid_input', `environment "${c.req.param('env')}" ${env.error.issues[0]?.message ?? 'is invalid'}`);
  const app = NameParam.safeParse(c.req.param('app'));
  if (!app.success) throw new RollgateError('invalid_input', `app "${c.req.param('app')}" ${app.error.issues[0]?.message ?? 'is invalid'}`);
  return { env: env.data, app: app.data };
}

function versionParam(c: Context): string {
  const v = VersionName.safeParse(c.req.param('version'));
  if (!v.success) throw new RollgateError('invalid_input', `version "${c.req.param('version')}" ${v.error.issues[0]?.message ?? 'is invalid'}`);
  return v.data;
}

async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  let text: string;
  try {
    text = await c.req.text();
    raw = JSON.parse(text);
  } catch {
    throw new RollgateError('invalid_input', 'the request body is not valid JSON; send a JSON object with content-type application/json');
  }
  // Same rule as the control plane's decoder: no duplicate keys, none naming a prototype.
  const problem = keyProblem(text);
  if (problem) throw new RollgateError('invalid_input', `invalid request: ${problem}`);
  const r = schema.safeParse(raw);
  if (!r.success) throw new RollgateError('invalid_input', `invalid request: ${describeIssues(r.error)}`);
  return r.data;
}

export interface AgentApi {
  app: Hono;
  /** Ends every open event stream (so the HTTP server can close). */
  closeStreams(): void;
}

export function createAgentApi(agent: Agent, opts: ApiOptions): AgentApi {
  const app = new Hono();
  const streams = new Set<() => void>();
  const heartbeatMs = opts.sseHeartbeatMs ?? 15_000;

  app.onError((err, c) => {
    if (isRollgateError(err)) return c.json(err.toJSON(), err.status as 400);
    process.stderr.write(`rollgate agent: ${err.stack ?? String(err)}\n`);
    return c.json({ error: { code: 'internal', message: `internal error: ${err.message}` } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  // Prometheus scrapes without credentials.
  app.get('/metrics', (c) => c.body(agent.renderPrometheus(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.use('/v1/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !tokenMatches(m[1]!.trim(), opts.token)) {
      throw new RollgateError('unauthorized', 'missing or wrong agent token: send "Authorization: Bearer <token>" with the token from <dataDir>/agent.token');
    }
    await next();
  });
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: 4 * 1024 * 1024,
      onError: () => {
        throw new RollgateError('payload_too_large', 'request body larger than 4 MiB');
      },
    }),
  );

  app.get('/v1/health', (c) => c.json({ ok: true, pid: process.pid, startedAt: agent.startedAt, services: agent.serviceCount() }));

  app.get('/v1/services', (c) => c.json(agent.list()));

  app.get('/v1/services/:env/:app', (c) => {
    const key = serviceKey(c);
    const svc = agent.observe(key);
    if (!svc) throw new RollgateError('not_found', `the agent runs no service ${key.app} in ${key.env}`);
    return c.json(svc);
  });

  app.put('/v1/services/:env/:app', async (c) => {
    const key = serviceKey(c);
    const body = await parseBody(c, PutServiceBodySchema);
    return c.json(await agent.putService(key, body));
  });

  // Secret values (after an agent restart, or new ones): answered with the service, never with the values.
  app.put('/v1/services/:env/:app/secrets', async (c) => {
    const key = serviceKey(c);
    const body = await parseBody(c, PutSecretsBodySchema);
    return c.json(await agent.putSecrets(key, body));
  });

  app.put('/v1/services/:env/:app/routes', async (c) => {
    const key = serviceKey(c);
    const routes = await parseBody(c, RouteSpecSchema);
    return c.json(await agent.putRoutes(key, routes));
  });

  app.delete('/v1/services/:env/:app', async (c) => {
    const key = serviceKey(c);
    if (!(await agent.deleteService(key))) throw new RollgateError('not_found', `the agent runs no service ${key.app} in ${key.env}`);
    return c.json({ ok: true });
  });

  app.get('/v1/services/:env/:app/logs', async (c) => {
    const key = serviceKey(c);
    const q = LogsQuerySchema.safeParse(c.req.query());
    if (!q.success) throw new RollgateError('invalid_input', `invalid query: ${describeIssues(q.error, 'query')}`);
    return c.json({ lines: await agent.logs(key, q.data) });
  });

  // New log lines as they are written (`rollgate logs -f`), until the caller goes away.
  app.get('/v1/services/:env/:app/logs/stream', (c) => {
    const key = serviceKey(c);
    const q = LogsQuerySchema.omit({ tail: true }).safeParse(c.req.query());
    if (!q.success) throw new RollgateError('invalid_input', `invalid query: ${describeIssues(q.error, 'query')}`);
    return streamSSE(c, async (stream) => {
      let close!: () => void;
      const closed = new Promise<void>((r) => (close = r));
      let chain: Promise<void> = Promise.resolve();
      const push = (f: () => Promise<void>) => {
        chain = chain.then(f).catch(() => close());
      };
      const unfollow = agent.followLogs(key, q.data, (l) => push(() => stream.writeSSE({ event: 'line', data: JSON.stringify(l) })));
      const beat = setInterval(() => push(() => stream.write(': ping\n\n').then(() => undefined)), heartbeatMs);
      streams.add(close);
      stream.onAbort(() => close());
      push(() => stream.writeSSE({ event: 'hello', data: '{}' }));
      await closed;
      clearInterval(beat);
      unfollow();
      streams.delete(close);
    });
  });

  // Chaos: faults the router injects (time-limited), and instance kills.
  app.get('/v1/services/:env/:app/faults', (c) => c.json({ faults: agent.listFaults(serviceKey(c)) }));
  app.put('/v1/services/:env/:app/faults/:version', async (c) => {
    const key = serviceKey(c);
    const version = versionParam(c);
    return c.json(agent.setFault(key, version, await parseBody(c, PutFaultBodySchema)));
  });
  app.delete('/v1/services/:env/:app/faults', (c) => c.json({ cleared: agent.clearFaults(serviceKey(c)) }));
  app.delete('/v1/services/:env/:app/faults/:version', (c) => c.json({ cleared: agent.clearFaults(serviceKey(c), versionParam(c)) }));
  app.post('/v1/services/:env/:app/versions/:version/kill', (c) => c.json(agent.killInstance(serviceKey(c), versionParam(c))));

  app.get('/v1/events', (c) =>
    streamSSE(c, async (stream) => {
      let id = 0;
      let close!: () => void;
      const closed = new Promise<void>((r) => (close = r));
      // Writes are chained so events keep their order.
      let chain: Promise<void> = Promise.resolve();
      const send = (event: string, data: unknown) => {
        chain = chain.then(() => stream.writeSSE({ event, data: JSON.stringify(data), id: String(++id) })).catch(() => close());
      };
      const unsubscribe = agent.subscribe((e: AgentEvent) => send('instance', e));
      const beat = setInterval(() => {
        chain = chain.then(() => stream.write(': ping\n\n')).then(() => undefined, () => close());
      }, heartbeatMs);
      streams.add(close);
      stream.onAbort(() => close());
      send('hello', { pid: process.pid, startedAt: agent.startedAt });
      await closed;
      clearInterval(beat);
      unsubscribe();
      streams.delete(close);
    }),
  );

  return {
    app,
    closeStreams: () => {
      for (const close of [...streams]) close();
    },
  };
}
