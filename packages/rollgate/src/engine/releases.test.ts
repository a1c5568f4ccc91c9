/**
 * Releases from server directories and from uploads, with a real SQLite store and real files.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { create } from 'tar';
import { RollgateError } from '../core/errors.js';
import { SKIPPED_NAMES } from '../core/release-files.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { hashTree, Releases } from './releases.js';
import { craftTarGz, paxRecord, type CraftedEntry } from '../test/tar-craft.js';
import { gzipSync } from 'node:zlib';
import { lstat } from 'node:fs/promises';

const MiB = 1024 * 1024;
/** Low limits so a bomb test is quick. */
const LIMITS = { maxUploadBytes: 5 * MiB, maxUnpackedBytes: 10 * MiB, maxFiles: 50 };

let tmp: string;
let store: Store;
let releases: Releases;
let releasesDir: string;
let n = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rollgate-releases-'));
  store = await openStore({ dataDir: join(tmp, 'data') });
  releasesDir = join(tmp, 'releases');
  releases = new Releases(store, releasesDir);
});

after(async () => {
  await store.close();
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh app per test, so tests do not see each other's releases. */
async function newApp(): Promise<string> {
  const app = `app${++n}`;
  await store.upsertApp(app, { run: 'node server.js' });
  return app;
}

/** A build output: a file, an executable, a nested file, a link inside, plus .git and a nested .rollgate. */
async function buildDir(name: string, content = 'console.log("v1")\n'): Promise<string> {
  const dir = join(tmp, 'src', name);
  await mkdir(join(dir, 'lib', '.rollgate'), { recursive: true });
  await mkdir(join(dir, '.git', 'objects'), { recursive: true });
  await writeFile(join(dir, 'server.js'), content);
  await writeFile(join(dir, 'start.sh'), '#!/bin/sh\nexec node server.js\n');
  await chmod(join(dir, 'start.sh'), 0o755);
  await writeFile(join(dir, 'lib', 'util.js'), 'export const x = 1;\n');
  await writeFile(join(dir, 'lib', '.rollgate', 'state.json'), '{}');
  await writeFile(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  await symlink('../server.js', join(dir, 'lib', 'main.js'));
  return dir;
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RollgateError, `not a RollgateError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

async function incomingLeft(): Promise<string[]> {
  return readdir(join(releasesDir, '.incoming')).catch(() => []);
}

test('a directory becomes a release: copied without .git and .rollgate, source left alone', async () => {
  const app = await newApp();
  const dir = await buildDir('plain');
  const { release, created } = await releases.fromDirectory({ app, dir, commitSha: 'abc123', commitTime: '2026-01-05T10:00:00Z', actor: 'pipeline:ship/1' });
  assert.equal(created, true);
  assert.match(release.version, /^sha-[0-9a-f]{12}$/);
  assert.equal(release.version, `sha-${release.contentHash.slice(0, 12)}`);
  assert.equal(release.commitSha, 'abc123');
  assert.equal(release.commitTime, '2026-01-05T10:00:00Z');
  assert.equal(release.createdBy, 'pipeline:ship/1');
  assert.deepEqual((await store.getRelease(release.id))?.contentHash, release.contentHash);

  const a = release.artifactDir;
  assert.deepEqual((await readdir(a)).sort(), ['lib', 'server.js', 'start.sh']);
  assert.deepEqual((await readdir(join(a, 'lib'))).sort(), ['main.js', 'util.js']);
  assert.equal(await readFile(join(a, 'server.js'), 'utf8'), 'console.log("v1")\n');
  assert.equal(await readlink(join(a, 'lib', 'main.js')), '../server.js');
  assert.ok((await stat(join(a, 'start.sh'))).mode & 0o100, 'the executable bit is kept');
  assert.equal(await hashTree(a), release.contentHash);
  // The workspace is copied, not moved.
  assert.equal(await readFile(join(dir, '.git', 'HEAD'), 'utf8'), 'ref: refs/heads/main\n');
  assert.deepEqual(await incomingLeft(), []);
});

test('the same content twice is the same release; other content under that version is a conflict', async () => {
  const app = await newApp();
  const dir = await buildDir('twice');
  const first = await releases.fromDirectory({ app, dir, actor: 'a' });
  const again = await releases.fromDirectory({ app, dir, actor: 'b' });
  assert.equal(again.created, false);
  assert.equal(again.release.id, first.release.id);

  const v1 = await releases.fromDirectory({ app, dir, version: '1.0.0', actor: 'a' });
  assert.equal(v1.created, true);
  assert.equal(v1.release.contentHash, first.release.contentHash);
  const other = await buildDir('twice-other', 'console.log("v2")\n');
  await rejectsWith(releases.fromDirectory({ app, dir: other, version: '1.0.0', actor: 'a' }), 'conflict', /release 1\.0\.0 of "app\d+" already exists with other content/);
  assert.equal((await store.getReleaseByVersion(app, '1.0.0'))?.id, v1.release.id);
  assert.equal((await store.listReleases(app)).length, 2);
  assert.deepEqual(await incomingLeft(), []);
});

test('.git and .rollgate are skipped at any depth: they do not change the hash', async () => {
  const app = await newApp();
  const withGit = await buildDir('with-git');
  const without = join(tmp, 'src', 'without-git');
  await mkdir(join(without, 'lib'), { recursive: true });
  await writeFile(join(without, 'server.js'), 'console.log("v1")\n');
  await writeFile(join(without, 'start.sh'), '#!/bin/sh\nexec node server.js\n');
  await chmod(join(without, 'start.sh'), 0o755);
  await writeFile(join(without, 'lib', 'util.js'), 'export const x = 1;\n');
  await symlink('../server.js', join(without, 'lib', 'main.js'));
  const a = await releases.fromDirectory({ app, dir: withGit, actor: 'a' });
  const b = await releases.fromDirectory({ app, dir: without, actor: 'a' });
  assert.equal(b.release.id, a.release.id);
  assert.equal(b.created, false);
  // A submodule's .git is a file, not a directory: skipped too.
  await writeFile(join(without, 'lib', '.git'), 'gitdir: ../../.git/modules/lib\n');
  assert.equal((await releases.fromDirectory({ app, dir: without, actor: 'a' })).release.id, a.release.id);
  // Anything else counts.
  await writeFile(join(without, 'lib', '.gitignore'), 'node_modules\n');
  assert.notEqual((await releases.fromDirectory({ app, dir: without, actor: 'a' })).release.id, a.release.id);
});

test('a symlink leading outside the directory is refused, naming it, and nothing is recorded', async () => {
  const app = await newApp();
  const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
    ['up', (d) => symlink('../../secrets.txt', join(d, 'lib', 'leak')), /symlink .*up\/lib\/leak -> \.\.\/\.\.\/secrets\.txt leads outside .*up/],
    ['absolute', (d) => symlink('/etc/passwd', join(d, 'passwd')), /symlink .*absolute\/passwd -> \/etc\/passwd leads outside/],
    // Each text looks inside, but a -> b/.. with b -> . lands in the parent.
    [
      'chained',
      async (d) => {
        await symlink('.', join(d, 'b'));
        await symlink('b/..', join(d, 'a'));
      },
      /symlink .*chained\/a -> b\/\.\. leads outside .*\(through other links it reaches \.\.\)/,
    ],
  ];
  for (const [name, addLink, message] of cases) {
    const dir = await buildDir(name);
    await addLink(dir);
    await rejectsWith(releases.fromDirectory({ app, dir, actor: 'a' }), 'invalid_input', message);
  }
  assert.deepEqual(await store.listReleases(app), []);
  assert.deepEqual(await readdir(join(releasesDir, app)).catch(() => []), []);
  assert.deepEqual(await incomingLeft(), []);
});

test('a directory gives the same hash as the same files uploaded as tar.gz', async () => {
  const app = await newApp();
  const dir = await buildDir('tarred');
  const entries = (await readdir(dir)).filter((e) => !SKIPPED_NAMES.has(e));
  const body = Readable.from(create({ gzip: true, portable: true, cwd: dir, filter: (p: string) => !p.split('/').some((s) => SKIPPED_NAMES.has(s)) }, entries));
  const uploaded = await releases.upload({ app, version: '2.0.0', actor: 'cli', body, limits: LIMITS });
  assert.equal(uploaded.created, true);
  const fromDir = await releases.fromDirectory({ app, dir, actor: 'pipeline' });
  assert.equal(fromDir.release.contentHash, uploaded.release.contentHash);
  // Same version, same content: the uploaded release is the one.
  const same = await releases.fromDirectory({ app, dir, version: '2.0.0', actor: 'pipeline' });
  assert.equal(same.created, false);
  assert.equal(same.release.id, uploaded.release.id);
});

test('an upload whose links escape only through other links is refused too', async () => {
  const app = await newApp();
  const dir = join(tmp, 'src', 'upload-chained');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.js'), 'x');
  await symlink('.', join(dir, 'b'));
  await symlink('b/..', join(dir, 'a'));
  const body = Readable.from(create({ gzip: true, portable: true, cwd: dir }, ['a', 'b', 'server.js']));
  await rejectsWith(releases.upload({ app, actor: 'cli', body, limits: LIMITS }), 'invalid_input', /symlink a -> b\/\.\. leads outside the release directory/);
  assert.deepEqual(await store.listReleases(app), []);
  assert.deepEqual(await incomingLeft(), []);
});

test('a missing, empty or non-directory path, and an unknown app, are refused', async () => {
  const app = await newApp();
  await rejectsWith(releases.fromDirectory({ app, dir: join(tmp, 'nope'), actor: 'a' }), 'invalid_input', /release directory .*nope does not exist/);
  const empty = join(tmp, 'src', 'empty');
  await mkdir(join(empty, '.git'), { recursive: true });
  await rejectsWith(releases.fromDirectory({ app, dir: empty, actor: 'a' }), 'invalid_input', /release directory .*empty is empty/);
  const file = join(tmp, 'src', 'file.txt');
  await writeFile(file, 'x');
  await rejectsWith(releases.fromDirectory({ app, dir: file, actor: 'a' }), 'invalid_input', /is not a directory/);
  await rejectsWith(releases.fromDirectory({ app: 'ghost', dir: await buildDir('ghost'), actor: 'a' }), 'not_found', /unknown app "ghost"/);
  assert.deepEqual(await store.listReleases(app), []);
});

// ---------------------------------------------------------------------------------------------
// Bounds and refused entries (issue 9, items 5 and 7)

/** Everything the store and the disk hold for an app: must stay empty after a refused upload. */
async function assertNothingKept(app: string): Promise<void> {
  assert.deepEqual(await store.listReleases(app), []);
  assert.deepEqual(await readdir(join(releasesDir, app)).catch(() => []), []);
  assert.deepEqual(await incomingLeft(), []);
}

const upload = (app: string, archive: Buffer, limits = LIMITS) => releases.upload({ app, actor: 'cli', body: Readable.from([archive]), limits });

test('a gzip bomb is refused with 413 naming the limit, and nothing is kept', async () => {
  const app = await newApp();
  // 40 MiB of zeros compress to about 40 KiB: far under the upload limit, four times the unpacked one.
  const bomb = craftTarGz([{ path: 'server.js', type: '0', body: 'x' }, { path: 'zeros.bin', type: '0', body: Buffer.alloc(40 * MiB) }]);
  assert.ok(bomb.length < LIMITS.maxUploadBytes / 50, `the bomb is small when compressed (${bomb.length} bytes)`);
  await assert.rejects(upload(app, bomb), (e: unknown) => {
    assert.ok(e instanceof RollgateError);
    assert.equal(e.code, 'payload_too_large');
    assert.equal(e.status, 413);
    assert.match(e.message, /release upload unpacks to more than 10 MiB \(stopped at "zeros\.bin"\); nothing was kept/);
    assert.match(e.message, /--release-max-unpacked/);
    return true;
  });
  await assertNothingKept(app);
});

test('many small files that add up over the unpacked limit stop at the file that crosses it', async () => {
  const app = await newApp();
  const files: CraftedEntry[] = Array.from({ length: 20 }, (_, i) => ({ path: `part${i}.bin`, type: '0', body: Buffer.alloc(MiB, i) }));
  await rejectsWith(upload(app, craftTarGz(files)), 'payload_too_large', /unpacks to more than 10 MiB \(stopped at "part10\.bin"\)/);
  await assertNothingKept(app);
});

test('junk after the end of the archive counts too', async () => {
  const app = await newApp();
  const tar = craftTarGz([{ path: 'server.js', type: '0', body: 'x' }]);
  const junk = gzipSync(Buffer.alloc(20 * MiB));
  await rejectsWith(upload(app, Buffer.concat([tar, junk])), 'payload_too_large', /unpacks to more than 10 MiB/);
  await assertNothingKept(app);
});

test('more entries than the file limit is a 413 naming the limit', async () => {
  const app = await newApp();
  const files: CraftedEntry[] = Array.from({ length: 51 }, (_, i) => ({ path: `f${i}.txt`, type: '0', body: 'x' }));
  await rejectsWith(upload(app, craftTarGz(files)), 'payload_too_large', /release upload holds more than 50 entries; nothing was kept.*--release-max-files/);
  await assertNothingKept(app);
  // Exactly at the limit is fine.
  const ok = await upload(app, craftTarGz(files.slice(0, 50)));
  assert.equal(ok.created, true);
});

test('the compressed upload limit holds too', async () => {
  const app = await newApp();
  const random = Buffer.from(Array.from({ length: 6 * MiB }, () => Math.floor(Math.random() * 256)));
  await rejectsWith(upload(app, craftTarGz([{ path: 'noise.bin', type: '0', body: random }])), 'payload_too_large', /release upload is larger than 5 MiB.*--release-max-upload/);
  await assertNothingKept(app);
});

test('devices, FIFOs, hardlinks, sparse files and unknown types are refused by name, not dropped', async () => {
  const app = await newApp();
  const base: CraftedEntry = { path: 'server.js', type: '0', body: 'console.log(1)\n' };
  const cases: Array<[CraftedEntry[], RegExp]> = [
    [[base, { path: 'dev/null', type: '3' }], /entry "dev\/null" is a character device/],
    [[base, { path: 'disk', type: '4' }], /entry "disk" is a block device/],
    [[base, { path: 'pipe', type: '6' }], /entry "pipe" is a FIFO/],
    [[base, { path: 'copy.js', type: '1', linkpath: 'server.js' }], /entry "copy\.js" is a hardlink/],
    [[base, { path: 'holes.bin', type: 'S', body: Buffer.alloc(512) }], /entry "holes\.bin" is a sparse file/],
    [[base, { path: 'odd', type: 'Z' }], /entry "odd" is of an unsupported type/],
    [
      [
        base,
        { path: 'PaxHeaders/big.img', type: 'x', body: paxRecord('GNU.sparse.major', '1') + paxRecord('GNU.sparse.minor', '0') + paxRecord('GNU.sparse.name', 'big.img') + paxRecord('GNU.sparse.realsize', '1048576') },
        { path: 'GNUSparseFile.0/big.img', type: '0', body: '1\n0\n512\n' },
      ],
      /entry "big\.img" is a sparse file/,
    ],
  ];
  for (const [entries, message] of cases) {
    await rejectsWith(upload(app, craftTarGz(entries)), 'invalid_input', message);
    await assertNothingKept(app);
  }
});

test('setuid, setgid, sticky and world-write bits and the archive owners are not kept', async () => {
  const app = await newApp();
  const archive = craftTarGz([
    { path: 'bin', type: '5', mode: 0o1777, uid: 0, gid: 0 },
    { path: 'bin/tool', type: '0', mode: 0o6777, uid: 0, gid: 0, body: '#!/bin/sh\necho hi\n' },
    { path: 'data.txt', type: '0', mode: 0o2666, uid: 4242, gid: 4242, body: 'x' },
  ]);
  const { release } = await upload(app, archive);
  const me = { uid: process.getuid!(), gid: process.getgid!() };
  for (const [rel, mode] of [['bin', 0o755], ['bin/tool', 0o755], ['data.txt', 0o644]] as const) {
    const st = await lstat(join(release.artifactDir, rel));
    assert.equal(st.mode & 0o7777, mode, `${rel} is ${(st.mode & 0o7777).toString(8)}`);
    assert.deepEqual({ uid: st.uid, gid: st.gid }, me, `${rel} belongs to the server's user`);
  }
});

test('a symlink entry that points outside is refused', async () => {
  const app = await newApp();
  for (const [linkpath, re] of [['/etc/passwd', /link "pw" -> "\/etc\/passwd" leads outside/], ['../../x', /link "pw" -> "\.\.\/\.\.\/x" leads outside/]] as const) {
    await rejectsWith(upload(app, craftTarGz([{ path: 'server.js', type: '0', body: 'x' }, { path: 'pw', type: '2', linkpath }])), 'invalid_input', re);
    await assertNothingKept(app);
  }
});
