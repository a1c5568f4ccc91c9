/** Structured logs: one JSON object a line on stderr. Secrets never go through here. */
import { maskStrings } from '../core/secret-masker.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function jsonLogger(component: string, out: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: string, msg: string, fields?: LogFields) => {
    out.write(JSON.stringify({ at: new Date().toISOString(), level, component, msg, ...fields }) + '\n');
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** A logger that passes every message and field through `mask` first (known secret values out). */
export function maskedLogger(inner: Logger, mask: (text: string) => string): Logger {
  const wrap = (f: (m: string, fields?: LogFields) => void) => (m: string, fields?: LogFields) => f(mask(m), fields ? maskStrings(fields, mask) : undefined);
  return { info: wrap(inner.info.bind(inner)), warn: wrap(inner.warn.bind(inner)), error: wrap(inner.error.bind(inner)) };
}
