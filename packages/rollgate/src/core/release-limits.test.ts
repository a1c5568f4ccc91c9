import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteSize, formatBytes } from './release-limits.js';
import { ReleaseFlags, releasePolicyOf } from '../cli/release-flags.js';

test('sizes parse with binary and decimal units and print back readably', () => {
  assert.equal(ByteSize.parse('2GiB'), 2 * 1024 ** 3);
  assert.equal(ByteSize.parse('10MB'), 10_000_000);
  assert.equal(ByteSize.parse('1.5 mib'), 1.5 * 1024 ** 2);
  assert.equal(ByteSize.parse('4096'), 4096);
  for (const bad of ['', 'lots', '-1', '0', '2 GiBs']) assert.equal(ByteSize.safeParse(bad).success, false, bad);
  assert.equal(formatBytes(2 * 1024 ** 3), '2 GiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(100), '100 bytes');
});

test('server flags become the release policy; absent flags keep the defaults', () => {
  const opts = ReleaseFlags.parse({ releaseMaxUnpacked: '3GiB', releaseMaxFiles: '5000', releaseKeep: '0' });
  assert.deepEqual(releasePolicyOf(opts), { maxUnpackedBytes: 3 * 1024 ** 3, maxFiles: 5000, keep: 0 });
  assert.deepEqual(releasePolicyOf(ReleaseFlags.parse({})), {});
});
