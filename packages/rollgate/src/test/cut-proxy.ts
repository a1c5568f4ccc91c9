/**
 * A TCP relay on loopback in front of a real server, which a test can cut (every connection
 * dropped, new ones refused) and restore: the server "goes away" for the clients behind it
 * while it keeps running and taking changes through its own address.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class CutProxy {
  private readonly sockets = new Set<Socket>();
  private cut = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<CutProxy> {
    const { hostname, port } = new URL(target);
    let proxy: CutProxy | undefined;
    const server = createServer((inbound) => {
      if (!proxy || proxy.cut) return void inbound.destroy();
      const outbound = connect(Number(port), hostname);
      for (const s of [inbound, outbound]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy?.sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    proxy = new CutProxy(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    return proxy;
  }

  /** The server is away: open connections drop, new ones are closed at once. */
  down(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  up(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise((r) => this.server.close(r));
  }
}
