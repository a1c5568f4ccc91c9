/** Which directories a sandbox hides: pure path arithmetic. */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

export const isWithin = (path: string, root: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** Existing directories to hide, outermost only (a directory inside a hidden one is hidden already). */
export function hiddenRoots(paths: readonly string[]): string[] {
  const abs = [...new Set(paths.map((p) => resolve(p)))].filter((p) => p !== '/' && existsSync(p)).sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (const p of abs) if (!out.some((r) => isWithin(p, r))) out.push(p);
  return out;
}

/** Ancestors of `dir` strictly inside one of `roots`, outermost first (the sandbox recreates them). */
export function ancestorsInside(dir: string, roots: readonly string[]): string[] {
  const out: string[] = [];
  for (let p = dirname(dir); p !== dirname(p); p = dirname(p)) {
    if (roots.some((r) => p !== r && isWithin(p, r))) out.unshift(p);
  }
  return out;
}

/** Ancestors of `dir`, outermost first. */
export function ancestorsOf(dir: string): string[] {
  const out: string[] = [];
  for (let p = dirname(dir); p !== dirname(p); p = dirname(p)) out.unshift(p);
  return out;
}

/**
 * The outermost ancestor of `dir` that others may not search (mode without o+x), if any: another
 * account cannot pass it to reach `dir`, nor see anything in it, so a sandbox may replace it.
 */
export function firstClosedAncestor(dir: string): string | null {
  return ancestorsOf(dir).find((p) => (statSync(p).mode & 0o001) === 0) ?? null;
}
