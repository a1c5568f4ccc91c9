/** Glue between commander and the command implementations: options, parsing, errors, exit codes. */
import type { Command } from 'commander';
import { z } from 'zod';
import { ApiClient } from './client.js';
import { discoverServer } from './config.js';
import { EXIT_OK, UsageError, exitCodeFor } from './exit.js';
import { Output } from './output.js';

export interface Ctx {
  out: Output;
  cmd: Command;
}

/** Adds the options every client command has. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'control-plane URL (default: $ROLLGATE_SERVER, then .rollgate/server.json, then http://127.0.0.1:7070)')
    .option('--json', 'print one JSON document on stdout');
}

export function fileOption(cmd: Command): Command {
  return cmd.option('-f, --file <path>', 'the spec file', 'rollgate.yaml');
}

export function clientFor(opts: { server?: string | undefined }): ApiClient {
  const cfg = discoverServer({ flag: opts.server });
  return new ApiClient(cfg.url, cfg.token);
}

/**
 * Wraps a command body: parses its options with `schema`, gives it an Output, and turns what it
 * returns or throws into the exit code (process.exitCode; main exits once parsing returns).
 */
export function action<S extends z.ZodType, Args extends unknown[]>(
  schema: S,
  body: (opts: z.output<S>, ctx: Ctx, ...args: Args) => Promise<number | void>,
): (...all: unknown[]) => Promise<void> {
  return async (...all: unknown[]) => {
    const cmd = all[all.length - 1] as Command;
    const raw = cmd.opts();
    const out = new Output(raw.json === true);
    try {
      const opts = parseOptions(schema, raw);
      const args = all.slice(0, -2) as Args;
      const code = await body(opts, { out, cmd }, ...args);
      process.exitCode = code ?? EXIT_OK;
    } catch (e) {
      const extra = e instanceof Error && 'result' in e && isRecord(e.result) ? e.result : undefined;
      out.error(e, extra);
      process.exitCode = exitCodeFor(e);
    }
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const msgs = r.error.issues.map((i) => {
    const key = i.path[0];
    const flag = typeof key === 'string' ? `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}` : 'options';
    return `${flag}: ${i.message}`;
  });
  throw new UsageError(msgs.join('; '));
}

/** Validates a positional argument with a schema, naming it in the error. */
export function parseArg<S extends z.ZodType>(schema: S, value: unknown, name: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new UsageError(`${name} "${String(value)}": ${r.error.issues[0]?.message ?? 'invalid'}`);
}

/** Base of every options schema: commander's own keys pass through untouched. */
export const ClientOpts = z.object({ server: z.string().optional(), json: z.boolean().optional() });
export const IntString = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
