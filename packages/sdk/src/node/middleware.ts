/**
 * Node HTTP middleware: runs the handler inside a per-request flag record and, at the last
 * moment before the response head is written (writeHead, which Node also calls for an implicit
 * head on the first write/end), sets the `rollgate-flags` header naming what was recorded.
 * Once the head has been sent nothing is added.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OutcomeSink } from '../client/outcomes.js';
import { FLAGS_HEADER, formatFlagsHeader } from './header.js';
import { RequestFlags, requestFlags } from './tracking.js';

export type NextFunction = (err?: unknown) => void;
export type NodeHandler<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (req: Req, res: Res) => void;

export interface TrackingOptions {
  /**
   * Where each finished response's outcome (status, latency, cut short) goes, by the variants it
   * was served with: a RollgateClient, which reports them for guarded rollouts of apps that are
   * not behind the Rollgate router. Absent: only the header is set.
   */
  outcomes?: OutcomeSink;
}

/** Records the response's outcome against its variants once it has ended (finished, or closed first). */
function watchOutcome(res: ServerResponse, flags: RequestFlags, sink: OutcomeSink): void {
  const t0 = performance.now();
  let done = false;
  const end = (cutShort: boolean) => {
    if (done) return;
    done = true;
    if (flags.variants.size > 0) sink.recordOutcome(flags.variants, res.statusCode, performance.now() - t0, cutShort);
  };
  res.once('finish', () => end(false));
  res.once('close', () => end(!res.writableFinished));
}

/** Hooks the response's writeHead to name the request's flags; returns the request's record. */
function track(res: ServerResponse, o: TrackingOptions = {}): RequestFlags {
  const flags = new RequestFlags();
  if (o.outcomes) watchOutcome(res, flags, o.outcomes);
  const writeHead = res.writeHead;
  // An own property shadows the prototype's method for this response only.
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent && flags.variants.size > 0) {
      const value = formatFlagsHeader(flags.variants);
      if (value !== null) this.setHeader(FLAGS_HEADER, value);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
  return flags;
}

/** Connect/Express form: `app.use(flagsMiddleware())`. */
export function flagsMiddleware(o: TrackingOptions = {}): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  return (_req, res, next) => {
    const flags = track(res, o);
    requestFlags.run(flags, next);
  };
}

/** Wrapper form for a plain node:http handler: `http.createServer(withFlagTracking(handler))`. */
export function withFlagTracking<Req extends IncomingMessage, Res extends ServerResponse>(handler: NodeHandler<Req, Res>, o: TrackingOptions = {}): NodeHandler<Req, Res> {
  return (req, res) => {
    const flags = track(res, o);
    requestFlags.run(flags, handler, req, res);
  };
}
