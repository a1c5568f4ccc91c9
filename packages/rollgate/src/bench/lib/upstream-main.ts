/**
 * Benchmark upstream: the smallest useful HTTP service (fixed small body with a length),
 * in its own process. Prints `listening PORT`.
 */
import http from 'node:http';

const body = Buffer.from('{"ok":true,"service":"bench-upstream"}\n');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = server.address();
  console.log(`listening ${typeof a === 'object' && a !== null ? a.port : 0}`);
});
process.on('SIGTERM', () => process.exit(0));
