import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJsonBody, keyProblem } from './json-body.js';

const json = { contentType: 'application/json', contentEncoding: null };
const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? 'thrown';
  }
};

test('plain JSON decodes; empty bodies are {}', () => {
  assert.deepEqual(decodeJsonBody(Buffer.from('{"a":[1,{"b":"c"}]}'), json), { a: [1, { b: 'c' }] });
  assert.deepEqual(decodeJsonBody(Buffer.alloc(0), { contentType: 'text/plain', contentEncoding: null }), {});
  assert.deepEqual(decodeJsonBody(Buffer.from(' \n'), json), {});
  assert.deepEqual(decodeJsonBody(Buffer.from('{"a":1}'), { contentType: 'application/merge-patch+json; charset=UTF-8', contentEncoding: 'identity' }), { a: 1 });
});

test('marks, other charsets, media types, compression and invalid UTF-8 are refused', () => {
  assert.equal(code(() => decodeJsonBody(Buffer.from('\ufeff{"user":"admin"}'), json)), 'invalid_input');
  assert.equal(code(() => decodeJsonBody(Buffer.from('{}'), { contentType: 'application/json; charset=utf-16', contentEncoding: null })), 'unsupported_media_type');
  assert.equal(code(() => decodeJsonBody(Buffer.from('{}'), { contentType: 'text/plain', contentEncoding: null })), 'unsupported_media_type');
  assert.equal(code(() => decodeJsonBody(Buffer.from('{}'), { contentType: 'application/json', contentEncoding: 'gzip' })), 'unsupported_media_type');
  assert.equal(code(() => decodeJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xa2, 0x22, 0x7d]), json)), 'invalid_input');
});

test('duplicate keys, also spelled with escapes, and prototype keys are refused with their path', () => {
  assert.match(keyProblem('{"user":"me","user":"admin"}') ?? '', /user: key "user" appears twice/);
  assert.match(keyProblem('{"user":"me","\\u0075ser":"admin"}') ?? '', /appears twice/);
  assert.match(keyProblem('{"spec":{"apps":{"__proto__":{}}}}') ?? '', /^spec\.apps\.__proto__: key "__proto__" is not allowed/);
  assert.match(keyProblem('{"a":[{"x":1},{"constructor":1}]}') ?? '', /^a\.1\.constructor/);
  assert.equal(keyProblem('{"a":{"x":1},"b":{"x":"\\"x\\":"},"c":["x","x"]}'), null, 'same key in sibling objects and strings that look like keys are fine');
});
