/**
 * Pipeline routes.
 *
 *   GET  /v1/pipelines                                   -> { name, app, stages, source }[]
 *   POST /v1/pipelines/:name/runs?version=&ref=&commitSha=&commitTime=
 *        body: tar.gz of the source directory, or empty with ?ref= (git source)   -> RunView (201)
 *   POST /v1/apps/:app/runs  (same, the app's pipeline)                        -> RunView (201)
 *   GET  /v1/runs?pipeline=&app=&status=&limit=           -> PipelineRunRecord[] (newest first)
 *   GET  /v1/runs/:id                                     -> RunView (stages, approvals)
 *   GET  /v1/runs/:id/logs?stage=&after=&limit=           -> { lines: StageLogLine[] }
 *   GET  /v1/runs/:id/logs/stream?stage=&after=           -> text/event-stream of StageLogLine, ends when the run ends
 *   POST /v1/runs/:id/approve  { stage?, reason? }        -> RunView
 *   POST /v1/runs/:id/reject   { stage?, reason }         -> RunView
 *   POST /v1/runs/:id/cancel                              -> RunView
 *   POST /v1/runs/:id/retry    { stage? }                 -> RunView
 *   POST /hooks/git/:name      push webhook (GitHub, Gitea, GitLab shapes), signed with
 *                              X-Hub-Signature-256 or X-Gitlab-Token (secret from the pipeline's webhookSecretEnv) -> { runId } (202)
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { RollgateError } from '../core/errors.js';
import type { ArchiveLimits } from '../core/release-limits.js';
import { isActiveRun, type StageLogLine } from '../core/pipeline.js';
import { STAGE_NAME_RE } from '../core/pipeline-spec.js';
import type { PipelineEngine } from '../engine/pipeline/index.js';
import { parsePush, pushMatchesRepository, verifySignature, verifyToken } from '../engine/pipeline/git-webhook.js';
import { AppName, ReleaseQuery } from './contract.js';
import { jsonLimit, parse, readJson, type ApiEnv } from './http.js';

const PipelineName = AppName;
const StageName = z.string().regex(STAGE_NAME_RE, { message: 'a stage name' });
const RunStatus = z.enum(['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled']);

export const StartRunQuery = ReleaseQuery.extend({ ref: z.string().min(1).max(200).optional() });
export const RunsQuery = z.object({
  pipeline: PipelineName.optional(),
  app: AppName.optional(),
  status: RunStatus.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});
export const RunLogsQuery = z.object({
  stage: StageName.optional(),
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});
export const ApproveRequest = z.object({ stage: StageName.optional(), reason: z.string().max(1000).optional() }).strict();
export const RejectRequest = z.object({ stage: StageName.optional(), reason: z.string().trim().min(1, { message: 'say why the release is rejected' }).max(1000) }).strict();
export const RetryStageRequest = z.object({ stage: StageName.optional() }).strict();

export interface PipelineRouteDeps {
  engine: PipelineEngine;
  limits: ArchiveLimits;
  env?: NodeJS.ProcessEnv;
}

export function registerPipelineRoutes(app: Hono<ApiEnv>, d: PipelineRouteDeps): void {
  // Looked up per request: tests wire the API without a pipeline engine.
  const p = () => d.engine.pipelines;
  const small = jsonLimit(64 * 1024);

  app.get('/v1/pipelines', async (c) => {
    const all = await d.engine.catalog.all();
    return c.json(Object.entries(all).map(([name, s]) => ({ name, app: s.app, source: s.source ?? null, stages: s.stages })));
  });

  const start = (which: 'pipeline' | 'app') => async (c: Context<ApiEnv>) => {
    const name = parse(PipelineName, c.req.param(which === 'pipeline' ? 'name' : 'app'), which);
    const q = parse(StartRunQuery, c.req.query(), 'query');
    const raw = c.req.raw.body;
    const hasBody = raw !== null && c.req.header('content-length') !== '0';
    if (hasBody && q.ref) throw new RollgateError('invalid_input', 'send either a source archive or ?ref= for the git source, not both');
    const run = await p().start({
      ...(which === 'pipeline' ? { pipeline: name } : { app: name }),
      version: q.version,
      trigger: 'api',
      actor: c.get('actor'),
      source: hasBody
        ? { kind: 'archive', body: Readable.fromWeb(raw as unknown as WebReadableStream<Uint8Array>), limits: d.limits, commitSha: q.commitSha, commitTime: q.commitTime }
        : { kind: 'git', ref: q.ref },
    });
    return c.json(await p().view(run.id), 201);
  };
  app.post('/v1/pipelines/:name/runs', start('pipeline'));
  app.post('/v1/apps/:app/runs', start('app'));

  app.get('/v1/runs', async (c) => c.json(await p().list(parse(RunsQuery, c.req.query(), 'query'))));
  app.get('/v1/runs/:id', async (c) => c.json(await p().view(c.req.param('id'))));
  app.get('/v1/runs/:id/logs', async (c) => {
    const q = parse(RunLogsQuery, c.req.query(), 'query');
    await p().view(c.req.param('id'));
    return c.json({ lines: await p().logs(c.req.param('id'), { stage: q.stage, afterId: q.after, limit: q.limit }) });
  });
  app.get('/v1/runs/:id/logs/stream', async (c) => {
    const id = c.req.param('id');
    const q = parse(RunLogsQuery, c.req.query(), 'query');
    await p().view(id);
    return streamSSE(c, async (stream) => {
      // Subscribe first and buffer, then replay from the store, so no line falls in between.
      const buffered: StageLogLine[] = [];
      let live = false;
      let last = Number(c.req.header('last-event-id') ?? q.after) || 0;
      const send = async (l: StageLogLine) => {
        if (l.id <= last || (q.stage && l.stage !== q.stage)) return;
        last = l.id;
        await stream.writeSSE({ id: String(l.id), event: 'line', data: JSON.stringify(l) });
      };
      const unfollow = d.engine.logs.follow(id, (l) => {
        if (live) void send(l).catch(() => undefined);
        else buffered.push(l);
      });
      stream.onAbort(unfollow);
      try {
        for (;;) {
          const page = await p().logs(id, { stage: q.stage, afterId: last, limit: 1000 });
          for (const l of page) await send(l);
          if (page.length < 1000) break;
        }
        for (const l of buffered) await send(l);
        live = true;
        while (!stream.aborted) {
          const run = await p().view(id);
          if (!isActiveRun(run.status)) {
            await d.engine.logs.flush();
            for (const l of await p().logs(id, { stage: q.stage, afterId: last, limit: 10_000 })) await send(l);
            await stream.writeSSE({ event: 'end', data: JSON.stringify({ status: run.status, message: run.message }) });
            break;
          }
          await stream.sleep(1000);
        }
      } finally {
        unfollow();
      }
    });
  });

  app.post('/v1/runs/:id/approve', small, async (c) => {
    const b = parse(ApproveRequest, await readJson(c), 'body');
    return c.json(await p().approve(c.req.param('id'), c.get('actor'), b));
  });
  app.post('/v1/runs/:id/reject', small, async (c) => {
    const b = parse(RejectRequest, await readJson(c), 'body');
    return c.json(await p().reject(c.req.param('id'), c.get('actor'), b));
  });
  app.post('/v1/runs/:id/cancel', small, async (c) => c.json(await p().cancel(c.req.param('id'), c.get('actor'))));
  app.post('/v1/runs/:id/retry', small, async (c) => {
    const b = parse(RetryStageRequest, await readJson(c), 'body');
    return c.json(await p().retry(c.req.param('id'), c.get('actor'), b));
  });
}

/** The push webhook: outside /v1 (no bearer token); the signature is the authentication. */
export function registerGitHookRoutes(app: Hono<ApiEnv>, d: PipelineRouteDeps): void {
  app.post('/hooks/git/:name', jsonLimit(5 * 1024 * 1024), async (c) => {
    const name = parse(PipelineName, c.req.param('name'), 'pipeline');
    const spec = await d.engine.catalog.get(name);
    const git = spec.source?.git;
    if (!git?.webhookSecretEnv) throw new RollgateError('not_found', `pipeline "${name}" takes no push webhook; set source.git.webhookSecretEnv to enable it`);
    const secret = (d.env ?? process.env)[git.webhookSecretEnv];
    if (!secret) throw new RollgateError('unavailable', `the server has no ${git.webhookSecretEnv} set; it holds the webhook secret of pipeline "${name}"`);
    const body = Buffer.from(await c.req.arrayBuffer());
    // GitHub and Gitea sign the body; GitLab sends the shared secret itself.
    const gitlab = c.req.header('x-gitlab-token');
    const ok = gitlab !== undefined ? verifyToken(secret, gitlab) : verifySignature(secret, body, c.req.header('x-hub-signature-256'));
    if (!ok) throw new RollgateError('unauthorized', 'webhook signature missing or wrong; sign the body with HMAC-SHA256 and the shared secret in X-Hub-Signature-256 (GitLab: set the secret token)');
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RollgateError('invalid_input', 'webhook body is not JSON; configure the webhook with content type application/json');
    }
    const push = parsePush(json);
    if (!pushMatchesRepository(push, git.url)) return c.json({ ignored: `push from another repository than ${git.url}` }, 202);
    if (push.deleted || push.branch !== git.branch) return c.json({ ignored: push.deleted ? 'branch deleted' : `push to ${push.ref}, pipeline follows ${git.branch}` }, 202);
    const run = await d.engine.pipelines.start({ pipeline: name, source: { kind: 'git', ref: push.after }, trigger: 'git-push', actor: `git-push:${name}` });
    return c.json({ runId: run.id }, 202);
  });
}
