/**
 * Node HTTP middleware: runs the handler inside a per-request flag record and, at the last
 * moment before the response head is written (writeHead, which Node also calls for an implicit
 * head on the first write/end), sets the `rollgate-flags` header naming what was recorded.
 * Once the head has been sent nothing is added.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FLAGS_HEADER, formatFlagsHeader } from './header.js';
import { RequestFlags, requestFlags } from './tracking.js';

export type NextFunction = (err?: unknown) => void;
export type NodeHandler<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (req: Req, res: Res) => void;

/** Hooks the response's writeHead to name the request's flags; returns the request's record. */
function track(res: ServerResponse): RequestFlags {
  const flags = new RequestFlags();
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
export function flagsMiddleware(): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  return (_req, res, next) => {
    const flags = track(res);
    requestFlags.run(flags, next);
  };
}

/** Wrapper form for a plain node:http handler: `http.createServer(withFlagTracking(handler))`. */
export function withFlagTracking<Req extends IncomingMessage, Res extends ServerResponse>(handler: NodeHandler<Req, Res>): NodeHandler<Req, Res> {
  return (req, res) => {
    const flags = track(res);
    requestFlags.run(flags, handler, req, res);
  };
}
