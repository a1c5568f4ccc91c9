import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, utimes, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Workspaces } from './workspace.js';

test('prune removes the workspaces (and their HOMEs) the callback does not keep, and leaves other names alone', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rollgate-ws-'));
  try {
    const ws = new Workspaces(root);
    const [keep, drop] = [randomUUID(), randomUUID()];
    for (const id of [keep, drop]) await mkdir(ws.dir(id), { recursive: true });
    for (const id of [keep, drop]) await mkdir(ws.home(id), { recursive: true });
    await mkdir(join(root, 'not-a-run'));
    await mkdir(join(root, 'not-a-run.home'));
    assert.equal(await ws.prune(async (id) => id === keep), 1);
    assert.deepEqual((await readdir(root)).sort(), [keep, `${keep}.home`, 'not-a-run', 'not-a-run.home'].sort());
    assert.equal(await ws.exists(keep), true);
    assert.equal(await ws.exists(drop), false);
    assert.throws(() => ws.dir('../etc'), /not a run id/);
    await ws.remove(keep);
    assert.deepEqual((await readdir(root)).sort(), ['not-a-run', 'not-a-run.home'], 'a removed run takes its HOME along');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('prune with touchedBefore leaves a workspace changed since then: a run being created fills it before it is recorded', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rollgate-ws-'));
  try {
    const ws = new Workspaces(root);
    const [old, fresh] = [randomUUID(), randomUUID()];
    for (const id of [old, fresh]) await mkdir(ws.dir(id), { recursive: true });
    const before = Date.now() - 60_000;
    await utimes(ws.dir(old), new Date(before - 60_000), new Date(before - 60_000));
    // Neither run is known: only the one untouched since `before` goes.
    assert.equal(await ws.prune(async () => false, { touchedBefore: before }), 1);
    assert.equal(await ws.exists(old), false);
    assert.equal(await ws.exists(fresh), true);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
