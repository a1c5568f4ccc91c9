import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateToken, isWellFormedToken, newTokenId, parseBearer, tokenExpiry, tokenHashHex, tokenMatchesHash, TOKEN_ID_RE } from './tokens.js';

test('tokens are rg_ and 43 base64url characters, unique; ids are not secrets', () => {
  const t = generateToken();
  assert.match(t, /^rg_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(t, generateToken());
  assert.ok(isWellFormedToken(t));
  assert.match(newTokenId(), TOKEN_ID_RE);
});

test('parseBearer: absent, malformed (any shape but rg_ + 43), or the token', () => {
  const t = generateToken();
  assert.deepEqual(parseBearer(undefined), { kind: 'none' });
  assert.deepEqual(parseBearer(''), { kind: 'none' });
  assert.deepEqual(parseBearer(`Bearer ${t}`), { kind: 'token', token: t });
  assert.deepEqual(parseBearer(`bearer ${t}`), { kind: 'token', token: t });
  for (const bad of [`Basic ${t}`, `Bearer ${t}x`, `Bearer ${t.slice(0, -1)}`, 'Bearer rg_test_0123', `Bearer ${t} extra`, 'Bearer', `Bearer ${'a'.repeat(600)}`, `Bearer ${t.replace('rg_', 'xx_')}`, `Bearer ${t.slice(0, 10)}!${t.slice(11)}`]) {
    assert.deepEqual(parseBearer(bad), { kind: 'malformed' }, bad);
  }
});

test('hash comparison: the right token matches its hash, nothing else does', () => {
  const t = generateToken();
  const h = tokenHashHex(t);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(tokenMatchesHash(t, h), true);
  assert.equal(tokenMatchesHash(generateToken(), h), false);
  assert.equal(tokenMatchesHash(t, 'abcd'), false, 'a short stored hash is no match, not an error');
});

test('tokenExpiry: durations from now, never, bounds', () => {
  const now = new Date('2024-05-01T00:00:00.000Z');
  assert.equal(tokenExpiry('30d', now), '2024-05-31T00:00:00.000Z');
  assert.equal(tokenExpiry('12h', now), '2024-05-01T12:00:00.000Z');
  assert.equal(tokenExpiry('never', now), null);
  assert.throws(() => tokenExpiry('30s', now), /at least 1m/);
  assert.throws(() => tokenExpiry('400d', now), /over 366 days/);
  assert.throws(() => tokenExpiry('soon', now), /not a duration/);
});
