/** The failure reason quoted from an instance's last output names the error, not the stack's last frames. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quoteOutput } from './instance.js';

test('a Node stack trace is quoted by its error line (and the last line), not by its frames', () => {
  const lines = [
    'file:///srv/app/server.js:3',
    "  throw new Error('DATABASE_URL is not set');",
    '  ^',
    '',
    'Error: DATABASE_URL is not set',
    '    at file:///srv/app/server.js:3:9',
    '    at ModuleJob.run (node:internal/modules/esm/module_job:234:25)',
    '    at async ModuleLoader.import (node:internal/modules/esm/loader:473:24)',
    'Node.js v20.18.0',
  ].filter(Boolean);
  assert.equal(quoteOutput(lines), 'Error: DATABASE_URL is not set | Node.js v20.18.0');
});

test('a Python traceback, a fatal line, and output with no error word', () => {
  assert.equal(quoteOutput(['Traceback (most recent call last):', '  File "app.py", line 1', 'KeyError: \'DATABASE_URL\'']), "KeyError: 'DATABASE_URL'");
  assert.equal(quoteOutput(['starting', 'fatal: cannot bind', 'bye']), 'fatal: cannot bind | bye');
  assert.equal(quoteOutput(['a', 'b', 'c', 'd']), 'b | c | d');
  assert.equal(quoteOutput([]), '(no output)');
});
