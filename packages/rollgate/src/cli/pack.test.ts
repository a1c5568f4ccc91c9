import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { list } from 'tar';
import { Readable } from 'node:stream';
import { RollgateError } from '../core/errors.js';
import { checkReleaseDir, packDir } from './pack.js';

async function entriesOf(archive: AsyncIterable<Uint8Array>): Promise<string[]> {
  const names: string[] = [];
  const parser = list({ onReadEntry: (e) => names.push(e.path) });
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
});
