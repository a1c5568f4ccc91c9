import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RollgateError } from '../../core/errors.js';
import { SecretCipher, type SealedSecret, type SecretAad } from './crypto.js';

const AAD: SecretAad = { app: 'shop', env: 'production', name: 'DB_PASSWORD', version: 3 };
const VALUE = 'hunter2-but-longer-ünïcödé';

function failsWith(fn: () => unknown, re: RegExp): void {
  let err: unknown;
  assert.throws(fn, (e) => ((err = e), true));
  assert.ok(err instanceof RollgateError, String(err));
  assert.match(err.message, re);
  assert.ok(!err.message.includes(VALUE), err.message);
}

test('seal then open gives the value back; the ciphertext does not contain it', () => {
  const c = new SecretCipher(randomBytes(32));
  const s = c.seal(VALUE, AAD);
  assert.match(s.keyId, /^v1\.[0-9a-f]{16}$/);
  assert.equal(s.nonce.length, 12);
  assert.equal(s.tag.length, 16);
  assert.equal(s.ciphertext.length, Buffer.byteLength(VALUE));
  assert.ok(!s.ciphertext.includes(Buffer.from(VALUE)));
  assert.equal(c.open(s, AAD).toString('utf8'), VALUE);
  assert.equal(c.open(c.seal(Buffer.alloc(0), AAD), AAD).length, 0);
});

test('a fresh nonce per encryption: the same value twice gives different ciphertexts', () => {
  const c = new SecretCipher(randomBytes(32));
  const nonces = new Set<string>();
  const cts = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const s = c.seal(VALUE, AAD);
    nonces.add(s.nonce.toString('hex'));
    cts.add(s.ciphertext.toString('hex'));
  }
  assert.equal(nonces.size, 200);
  assert.equal(cts.size, 200);
});

test('the key id is stable for a master key, differs between master keys, and reveals neither', () => {
  const master = randomBytes(32);
  const a = new SecretCipher(master);
  assert.equal(a.keyId, new SecretCipher(Buffer.from(master)).keyId);
  assert.notEqual(a.keyId, new SecretCipher(randomBytes(32)).keyId);
  assert.ok(!master.toString('hex').includes(a.keyId.slice(3)));
});

test('tampering with any part, or moving a ciphertext to another secret, fails the integrity check', () => {
  const c = new SecretCipher(randomBytes(32));
  const s = c.seal(VALUE, AAD);
  const flip = (b: Buffer, i: number) => {
    const x = Buffer.from(b);
    x[i] = x[i]! ^ 0x01;
    return x;
  };
  const variants: [string, SealedSecret][] = [
    ['ciphertext', { ...s, ciphertext: flip(s.ciphertext, 0) }],
    ['last ciphertext byte', { ...s, ciphertext: flip(s.ciphertext, s.ciphertext.length - 1) }],
    ['truncated ciphertext', { ...s, ciphertext: s.ciphertext.subarray(1) }],
    ['nonce', { ...s, nonce: flip(s.nonce, 5) }],
    ['tag', { ...s, tag: flip(s.tag, 15) }],
  ];
  for (const [what, v] of variants) failsWith(() => c.open(v, AAD), /DB_PASSWORD \(version 3\) of shop in production failed its integrity check/);
  for (const other of [{ ...AAD, app: 'shop2' }, { ...AAD, env: 'staging' }, { ...AAD, name: 'API_KEY' }, { ...AAD, version: 4 }]) {
    failsWith(() => c.open(s, other), /failed its integrity check/);
  }
  failsWith(() => c.open({ ...s, tag: s.tag.subarray(0, 12) }, AAD), /stored damaged/);
});

test('a ciphertext of another master key is named as such', () => {
  const s = new SecretCipher(randomBytes(32)).seal(VALUE, AAD);
  const other = new SecretCipher(randomBytes(32));
  failsWith(() => other.open(s, AAD), new RegExp(`another master key \\(key id ${s.keyId.replace('.', '\\.')}; this server's is ${other.keyId.replace('.', '\\.')}\\)`));
  // The same bytes relabelled with this key's id still fail: the id is authenticated, and the key differs.
  failsWith(() => other.open({ ...s, keyId: other.keyId }, AAD), /failed its integrity check/);
});
