/**
 * A tiny static server on loopback for browser tests: a page, and directories of built ES
 * modules under URL prefixes, loaded by the page through an import map (no bundler). Only
 * files under the given directories are served.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.html': 'text/html; charset=utf-8' };

export class ModuleServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** `roots`: URL prefix (e.g. "/sdk/") -> directory; `page`: the HTML served at /. */
  static async start(roots: Record<string, string>, page: string): Promise<ModuleServer> {
    const server = createServer((req, res) => {
      void (async () => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
        if (path === '/' || path === '/index.html') return void res.writeHead(200, { 'content-type': TYPES['.html']! }).end(page);
        const prefix = Object.keys(roots).find((p) => path.startsWith(p));
        if (prefix) {
          const root = normalize(roots[prefix]!);
          const file = normalize(join(root, path.slice(prefix.length)));
          if (file.startsWith(root + sep)) {
            try {
              const body = await readFile(file);
              return void res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body);
            } catch {
              // not there: 404 below
            }
          }
        }
        res.writeHead(404).end();
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return new ModuleServer(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
