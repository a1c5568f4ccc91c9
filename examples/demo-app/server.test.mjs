// The demo app's own tests, run by its release pipeline with Node's test runner
// (node --test --test-reporter=junit): the JUnit file they write is what the pipeline's gate judges.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const app = spawn(process.execPath, [fileURLToPath(new URL('./server.js', import.meta.url))], { env: { ...process.env, PORT: String(port), APP_VERSION: 'test' }, stdio: 'ignore' });
after(() => app.kill());

async function get(path, init) {
  for (let i = 0; ; i++) {
    try {
      return await fetch(`http://127.0.0.1:${port}${path}`, init);
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('answers its health check', async () => {
  const res = await get('/healthz');
  assert.equal(res.status, 200);
});

test('says which version served the request', async () => {
  const res = await get('/');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-app-version'), 'test');
});

test('echoes what it is sent', async () => {
  const res = await get('/echo', { method: 'POST', body: 'hello' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'hello');
});
