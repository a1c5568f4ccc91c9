/** One HTTP health probe of an instance over loopback. */
import { request } from 'node:http';

export interface ProbeResult {
  ok: boolean;
  /** What happened, in words for `lastError`: "answered 503", "connection refused", "timed out after 1s". */
  detail: string;
}

export function probe(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    // A fresh connection per probe (agent: false): keep-alive sockets would hold the app's
    // graceful shutdown open.
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { connection: 'close', 'user-agent': 'rollgate-health' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.on('error', () => undefined);
      finish(status >= 200 && status < 400 ? { ok: true, detail: `answered ${status}` } : { ok: false, detail: `answered ${status}` });
    });
    const timer = setTimeout(() => {
      finish({ ok: false, detail: `timed out after ${timeoutMs}ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      const detail = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ECONNRESET' ? 'connection reset' : e.message;
      finish({ ok: false, detail });
    });
    req.end();
  });
}
