import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { list } from 'tar';
import { Readable } from 'node:stream';
import { RollgateError } from '../core/errors.js';
import { checkReleaseDir, packDir } from './pack.js';


async function entriesOf(archive: AsyncIterable<Uint8Array>, types?: string[]): Promise<string[]> {
  const names: string[] = [];
  const parser = list({ onReadEntry: (e) => (names.push(e.path), types?.push(`${e.path}:${e.type}`)) });
  await new Promise<void>((resolve, reject) => {
    Readable.from(archive).on('error', reject).pipe(parser).on('error', reject).on('end', resolve).on('close', resolve);
  });
  return names.sort();
}

describe('release directory checks and packing', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'rollgate-pack-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const fresh = (name: string) => {
    const d = join(root, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'server.js'), 'console.log(1)\n');
    return d;
  };

  test('refuses a path that is not a directory, and one that does not exist', async () => {
    const d = fresh('notdir');
    await assert.rejects(checkReleaseDir(join(d, 'server.js')), (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input' && /is not a directory/.test(e.message));
    await assert.rejects(checkReleaseDir(join(d, 'missing')), (e: unknown) => e instanceof RollgateError && /does not exist/.test(e.message));
  });

  test('refuses a symlink that escapes the directory and names it', async () => {
    const d = fresh('escape');
    mkdirSync(join(d, 'lib'));
    symlinkSync('../../outside.txt', join(d, 'lib', 'secret'));
    await assert.rejects(checkReleaseDir(d), (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input' && /symlink .*lib\/secret/.test(e.message) && /outside/.test(e.message));
  });

  test('refuses an absolute symlink, and one that escapes through a directory link', async () => {
    const abs = fresh('absolute');
    symlinkSync('/etc/hostname', join(abs, 'host'));
    await assert.rejects(checkReleaseDir(abs), /symlink .*host points to the absolute path/);
    const via = fresh('via');
    symlinkSync(root, join(via, 'up')); // absolute: refused too
    await assert.rejects(checkReleaseDir(via), /symlink .*up/);
    const rel = fresh('viarel');
    mkdirSync(join(rel, 'd'));
    symlinkSync('..', join(rel, 'd', 'parent')); // inside: fine on its own
    symlinkSync('d/parent/server.js', join(rel, 'ok'));
    await checkReleaseDir(rel);
    symlinkSync('d/parent/..', join(rel, 'sneaky')); // lexically inside, really the parent of the directory
    await assert.rejects(checkReleaseDir(rel), /symlink .*sneaky -> d\/parent\/\.\. points outside .*it leads to/);
  });

  test('accepts links inside, skips .git and .rollgate, and packs the rest', async () => {
    const d = fresh('good');
    mkdirSync(join(d, '.git', 'objects'), { recursive: true });
    writeFileSync(join(d, '.git', 'HEAD'), 'ref: x\n');
    mkdirSync(join(d, '.rollgate'));
    writeFileSync(join(d, '.rollgate', 'api.token'), 'secret\n');
    mkdirSync(join(d, 'public'));
    writeFileSync(join(d, 'public', 'index.html'), '<p>hi</p>\n');
    symlinkSync('public/index.html', join(d, 'index.html'));
    const checked = await checkReleaseDir(d);
    assert.deepEqual(checked.entries, ['index.html', 'public', 'server.js']);
    assert.equal(checked.files, 3);
    const names = await entriesOf(packDir(checked));
    assert.deepEqual(names, ['index.html', 'public/', 'public/index.html', 'server.js']);
    assert.ok(!names.some((n) => n.includes('.git') || n.includes('.rollgate')));
  });

  test('refuses an empty directory', async () => {
    const d = join(root, 'empty');
    mkdirSync(join(d, '.git'), { recursive: true });
    await assert.rejects(checkReleaseDir(d), /is empty/);
  });

  test('hardlinked files are packed as plain files, never as hardlink entries', async () => {
    const d = fresh('hardlinks');
    linkSync(join(d, 'server.js'), join(d, 'copy.js'));
    const types: string[] = [];
    await entriesOf(packDir(await checkReleaseDir(d)), types);
    assert.deepEqual(types.sort(), ['copy.js:File', 'server.js:File']);
  });
});

describe('a release never ships the platform data directory (by real path, not by name)', () => {
  let root: string;
  let data: string;
  let project: string;
  let protect: { path: string; what: string }[];
  const refused = (re: RegExp) => (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input' && re.test(e.message);
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'rollgate-guard-'));
    project = join(root, 'project');
    // A data dir NOT named .rollgate, inside the project: no name rule would catch it.
    data = join(project, 'state');
    mkdirSync(join(data, 'releases', 'web'), { recursive: true });
    for (const f of ['master.key', 'api.token', 'agent.token', 'rollgate.db']) writeFileSync(join(data, f), `${f} secret\n`);
    mkdirSync(join(project, 'build'));
    writeFileSync(join(project, 'build', 'server.js'), 'x');
    protect = [{ path: data, what: "the platform's data directory" }];
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('the data directory itself, a directory inside it, and a parent of it are refused', async () => {
    await assert.rejects(checkReleaseDir(data, { protect }), refused(/--path .*state is the platform's data directory .*holds the platform's keys/));
    await assert.rejects(checkReleaseDir(join(data, 'releases'), { protect }), refused(/--path .*releases is inside the platform's data directory/));
    await assert.rejects(checkReleaseDir(project, { protect }), refused(/project\/state is the platform's data directory .*would ship the platform's keys.*--data-dir elsewhere/));
    await assert.rejects(checkReleaseDir(root, { protect }), refused(/project\/state is the platform's data directory/));
    // The build output beside it is fine.
    assert.equal((await checkReleaseDir(join(project, 'build'), { protect })).files, 1);
  });

  test('the data directory reached through a symlink, as the path or inside it, is refused', async () => {
    const viaLink = join(root, 'link-to-data');
    symlinkSync(data, viaLink);
    await assert.rejects(checkReleaseDir(viaLink, { protect }), refused(/--path .*link-to-data is the platform's data directory/));
    const app = join(root, 'app-with-link');
    mkdirSync(app);
    writeFileSync(join(app, 'server.js'), 'x');
    mkdirSync(join(app, '.rollgate'));
    // Inside the release by its text, but into the data dir (here under a skipped name) by its target.
    symlinkSync('.rollgate', join(app, 'keys'));
    await assert.rejects(checkReleaseDir(app, { protect: [{ path: join(app, '.rollgate'), what: "the platform's data directory" }] }), refused(/symlink .*keys -> \.rollgate leads to the platform's data directory/));
  });

  test('a hardlink to a key file is refused, and so is an unknown data directory by its contents', async () => {
    const app = join(root, 'app-with-hardlink');
    mkdirSync(app);
    writeFileSync(join(app, 'server.js'), 'x');
    linkSync(join(data, 'master.key'), join(app, 'innocent.txt'));
    await assert.rejects(checkReleaseDir(app, { protect }), refused(/innocent\.txt is the same file as .*master\.key .*\(a hardlink\)/));
    // A data dir this CLI was not told about still shows itself by what it holds.
    await assert.rejects(checkReleaseDir(project, { protect: [] }), refused(/project\/state looks like a Rollgate data directory/));
  });

  test('by default the data directory of the current directory is protected', async () => {
    const cwd = process.cwd();
    const here = join(root, 'default');
    mkdirSync(join(here, '.rollgate'), { recursive: true });
    writeFileSync(join(here, '.rollgate', 'master.key'), 'k');
    try {
      process.chdir(here);
      await assert.rejects(checkReleaseDir('.rollgate'), refused(/--path \.rollgate is the platform's data directory/));
      writeFileSync(join(here, 'server.js'), 'x');
      // Its own .rollgate is skipped by name, so the project directory itself may ship.
      assert.deepEqual((await checkReleaseDir('.')).entries, ['server.js']);
    } finally {
      process.chdir(cwd);
    }
  });
});
