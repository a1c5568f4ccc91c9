/**
 * What `rollgate init` can tell about a project from its files, cheaply and without running it:
 * the start command (package.json), the port variable and a health route (string search of the
 * source). Every guess is reported with where it came from so the written file can say so.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NAME_RE } from '../core/spec.js';

export interface Detected {
  app: string;
  run: { command: string; from: string } | null;
  portEnv: { name: string; from: string } | null;
  healthPath: { path: string; from: string } | null;
}

const SOURCE_EXT = /\.(js|mjs|cjs|ts|mts|cts|jsx|tsx)$/;
const SKIP_DIRS = new Set(['node_modules', '.git', '.rollgate', 'dist', 'build', 'coverage']);
const MAX_FILES = 300;
const MAX_BYTES = 512 * 1024;
const HEALTH_PATHS = ['/healthz', '/health', '/readyz', '/ready', '/livez', '/ping'];

function sourceFiles(dir: string, depth = 0, acc: string[] = []): string[] {
  if (depth > 4 || acc.length >= MAX_FILES) return acc;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return acc;
  }
  for (const n of names) {
    if (acc.length >= MAX_FILES) break;
    const p = join(dir, n);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (!SKIP_DIRS.has(n) && !n.startsWith('.')) sourceFiles(p, depth + 1, acc);
    } else if (SOURCE_EXT.test(n) && st.size <= MAX_BYTES) acc.push(p);
  }
  return acc;
}

function appName(raw: string): string {
  const name = raw.replace(/^@[^/]+\//, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 63);
  return NAME_RE.test(name) ? name : 'app';
}

export function detectProject(dir: string): Detected {
  let pkg: { name?: unknown; main?: unknown; scripts?: Record<string, unknown> } = {};
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg;
  } catch {
    // no package.json (or not JSON): no start command to detect
  }
  const start = pkg.scripts?.start;
  const run =
    typeof start === 'string' && start.trim() !== ''
      ? { command: start.trim(), from: 'package.json scripts.start' }
      : typeof pkg.main === 'string'
        ? { command: `node ${pkg.main}`, from: 'package.json main' }
        : null;
  let portEnv: Detected['portEnv'] = null;
  let healthPath: Detected['healthPath'] = null;
  for (const file of sourceFiles(dir)) {
    if (portEnv && healthPath) break;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const rel = file.slice(dir.length + 1);
    if (!portEnv) {
      const name = [...text.matchAll(/process\.env(?:\.([A-Za-z_]\w*)|\[\s*['"]([A-Za-z_]\w*)['"]\s*\])/g)].map((m) => m[1] ?? m[2] ?? '').find((n) => /PORT/.test(n));
      if (name) portEnv = { name, from: rel };
    }
    if (!healthPath) {
      const found = HEALTH_PATHS.find((p) => new RegExp(`['"\`]${p}['"\`?]`).test(text));
      if (found) healthPath = { path: found, from: rel };
    }
  }
  return { app: appName(typeof pkg.name === 'string' ? pkg.name : basename(dir)), run, portEnv, healthPath };
}
