import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RollgateError } from '../../core/errors.js';
import { checkPasswordPolicy, dummyVerify, generatePassword, hashPassword, needsRehash, verifyPassword } from './passwords.js';

const CHEAP = { logN: 10, r: 8, p: 1 };

test('scrypt hashes carry their parameters and a random salt, and verify', async () => {
  const a = await hashPassword('correct horse battery', CHEAP);
  const b = await hashPassword('correct horse battery', CHEAP);
  assert.match(a, /^scrypt\$10\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b, 'a fresh salt each time');
  assert.ok(!a.includes('correct'));
  assert.equal(await verifyPassword('correct horse battery', a), true);
  assert.equal(await verifyPassword('correct horse batterY', a), false);
  assert.equal(await verifyPassword('', a), false);
});

test('unicode passwords are normalised (NFC) before hashing', async () => {
  const h = await hashPassword('pässwörd-sëcure', CHEAP);
  assert.equal(await verifyPassword('pa\u0308sswo\u0308rd-se\u0308cure', h), true);
});

test('a malformed or tampered stored hash never verifies and never throws', async () => {
  const h = await hashPassword('some long password', CHEAP);
  const parts = h.split('$');
  const tampered = [...parts.slice(0, 5), Buffer.from('x'.repeat(32)).toString('base64url')].join('$');
  assert.equal(await verifyPassword('some long password', tampered), false);
  assert.equal(await verifyPassword('some long password', 'plain'), false);
  assert.equal(await verifyPassword('some long password', h.replace('scrypt$10', 'scrypt$40')), false, 'absurd cost refused');
});

test('needsRehash when the stored cost is below the current one', async () => {
  const h = await hashPassword('some long password', CHEAP);
  assert.equal(needsRehash(h, CHEAP), false);
  assert.equal(needsRehash(h, { ...CHEAP, logN: 11 }), true);
  assert.equal(needsRehash('garbage', CHEAP), true);
});

test('dummyVerify is always false; generated passwords are long and random; the policy names the rule', async () => {
  assert.equal(await dummyVerify('anything', CHEAP), false);
  const p = generatePassword();
  assert.equal(p.length, 24);
  assert.notEqual(p, generatePassword());
  assert.throws(() => checkPasswordPolicy('short'), (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input' && /at least 12/.test(e.message));
  assert.throws(() => checkPasswordPolicy('x'.repeat(2000)), /too long/);
  checkPasswordPolicy('twelve chars');
});
