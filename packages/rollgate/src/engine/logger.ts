/** Structured logs: one JSON object a line on stderr. Secrets never go through here. */
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
