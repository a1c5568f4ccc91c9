/**
 * Artifact paths are relative to the run's workspace. Anything that could read outside it
 * (absolute paths, `..` escapes, NUL bytes, symlinks pointing out) is refused.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { posix, resolve, sep } from 'node:path';
import { RollgateError } from '../core/errors.js';
import type { ReadArtifact } from './types.js';

/** Returns why `p` is not an acceptable workspace-relative path, or undefined when it is. */
export function artifactPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'the artifact path is empty';
  if (p.includes('\0')) return 'the artifact path contains a NUL byte';
  const slashed = p.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) {
    return `artifact path "${p}" is absolute; write it relative to the run's workspace (e.g. reports/junit.xml)`;
  }
  const normal = posix.normalize(slashed);
  if (normal === '..' || normal.startsWith('../')) {
    return `artifact path "${p}" leaves the run's workspace; write it relative to the workspace without ".." escapes`;
  }
  return undefined;
}

/** The normalised relative path; throws RollgateError('invalid_input') when it escapes the workspace. */
export function checkArtifactPath(p: string): string {
  const problem = artifactPathProblem(p);
  if (problem !== undefined) throw new RollgateError('invalid_input', problem);
  return posix.normalize(p.replace(/\\/g, '/'));
}

/** Default cap on an artifact's size: large enough for any real report, small enough to parse in memory. */
export const MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;

/**
 * A ReadArtifact for a workspace directory on disk. Resolves symlinks and refuses a file whose
 * real location is outside the workspace, and files over `maxBytes`.
 */
export function workspaceReader(workspaceDir: string, maxBytes = MAX_ARTIFACT_BYTES): ReadArtifact {
  return async (relativePath) => {
    const rel = checkArtifactPath(relativePath);
    const root = await realpath(resolve(workspaceDir));
    const real = await realpath(resolve(root, rel));
    if (real !== root && !real.startsWith(root + sep)) {
      throw new RollgateError('invalid_input', `artifact path "${relativePath}" resolves (through a symlink) outside the run's workspace`);
    }
    const info = await stat(real);
    if (!info.isFile()) throw new RollgateError('invalid_input', `artifact path "${relativePath}" is not a regular file`);
    if (info.size > maxBytes) {
      throw new RollgateError('payload_too_large', `artifact "${relativePath}" is ${info.size} bytes, over the ${maxBytes}-byte limit for gate inputs`);
    }
    return readFile(real, 'utf8');
  };
}
