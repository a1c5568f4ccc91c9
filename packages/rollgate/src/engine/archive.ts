/**
 * Unpacking an uploaded tar.gz (a release, or a pipeline's source) into a private folder, bounded
 * while it streams: compressed bytes, unpacked bytes and entries are counted as they arrive and
 * the upload stops at the first one over its limit (nothing is unpacked first and measured).
 * Only files, directories and symlinks that stay inside are accepted; anything else (hardlinks,
 * devices, FIFOs, sparse files, unknown types) is refused by name rather than dropped. Owners
 * and setuid/setgid/sticky bits from the archive are never kept.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { isAbsolute, join, normalize, sep } from 'node:path';
import * as tar from 'tar';
import { RollgateError } from '../core/errors.js';
import { LIMIT_FLAGS, formatBytes, type ArchiveLimits } from '../core/release-limits.js';

/** Room for tar's own headers (512 bytes each, long names, pax records) beside file content. */
const HEADER_ALLOWANCE_PER_ENTRY = 3 * 512;
const HEADER_ALLOWANCE = 1024 * 1024;

const KEPT_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink']);
const TYPE_NAMES: Record<string, string> = {
  Link: 'a hardlink',
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO',
  SparseFile: 'a sparse file',
  GNUDumpDir: 'a GNU dump directory',
};

export interface UnpackOptions {
  /** "release" or "pipeline source": how the refusals name what was sent. */
  what?: string;
}

/** A 413 naming the limit and the server flag that raises it. */
export function tooLarge(limits: ArchiveLimits, which: keyof ArchiveLimits, what: string, detail = ''): RollgateError {
  const limit = which === 'maxFiles' ? `${limits.maxFiles.toLocaleString('en-US')} ${limits.maxFiles === 1 ? 'entry' : 'entries'}` : formatBytes(limits[which]);
  const measure = which === 'maxUploadBytes' ? 'is larger than' : which === 'maxUnpackedBytes' ? 'unpacks to more than' : 'holds more than';
  return new RollgateError(
    'payload_too_large',
    `${what} upload ${measure} ${limit}${detail}; nothing was kept. Leave build caches and test data out of the directory, or have the operator raise the limit (rollgate server/up ${LIMIT_FLAGS[which]})`,
    { limit: which, value: limits[which] },
  );
}

/**
 * Unpacks a tar.gz stream into `into` (which must exist and be private). Throws a RollgateError
 * (413 over a limit, 400 for a refused entry or a damaged archive); the caller removes `into`.
 */
export async function unpackArchive(body: Readable, into: string, limits: ArchiveLimits, opts: UnpackOptions = {}): Promise<void> {
  const what = opts.what ?? 'release';
  let bad: RollgateError | null = null;
  let compressed = 0;
  let tarBytes = 0;
  let content = 0;
  let entries = 0;
  const sparseHeaders: string[] = [];

  const extract = tar.x({
    cwd: into,
    strict: true,
    preservePaths: false,
    // Never chown to the archive's owners, not even when the server runs as root.
    preserveOwner: false,
    // Our own limits bound what is written, with a message that names them.
    maxDecompressionRatio: Number.POSITIVE_INFINITY,
    filter: (path, entry) => {
      if (bad) return false;
      const e = entry as tar.ReadEntry;
      const problem = entryProblem(path, e, what);
      if (problem) return refuse(problem);
      if (++entries > limits.maxFiles) return refuse(tooLarge(limits, 'maxFiles', what));
      content += e.size ?? 0;
      if (content > limits.maxUnpackedBytes) return refuse(tooLarge(limits, 'maxUnpackedBytes', what, ` (stopped at "${path}")`));
      // Files get rw-r--r-- or rwxr-xr-x, directories rwxr-xr-x: no setuid, setgid, sticky or world write.
      e.mode = e.type === 'Directory' ? 0o755 : e.type === 'SymbolicLink' ? e.mode : (e.mode ?? 0) & 0o111 ? 0o755 : 0o644;
      return true;
    },
  });
  // Types the parser skips by itself (sparse, unknown) never reach the filter.
  extract.on('ignoredEntry', (e: tar.ReadEntry) => {
    if (!bad) refuse(new RollgateError('invalid_input', `${what} archive entry "${e.path}" is ${TYPE_NAMES[e.type] ?? `of an unsupported type (${e.type})`}; only regular files, directories and symlinks can be shipped: replace it with a regular file or remove it`));
  });
  // A PAX sparse file looks like a regular file whose data is a sparse map; its header says so.
  extract.on('meta', (text: string) => {
    if (/(^|\n)\d+ GNU\.sparse\./.test(text)) sparseHeaders.push(/(?:^|\n)\d+ (?:GNU\.sparse\.name|path)=([^\n]*)/.exec(text)?.[1] ?? '(unnamed)');
  });

  function refuse(e: RollgateError): false {
    bad ??= e;
    extract.abort(e);
    return false;
  }

  const countUpload = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      compressed += chunk.length;
      if (compressed > limits.maxUploadBytes) cb((bad ??= tooLarge(limits, 'maxUploadBytes', what)));
      else cb(null, chunk);
    },
  });
  const tarLimit = limits.maxUnpackedBytes + limits.maxFiles * HEADER_ALLOWANCE_PER_ENTRY + HEADER_ALLOWANCE;
  const countTar = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      tarBytes += chunk.length;
      // Past the content limit plus every header it may need: padding or junk after the end.
      if (tarBytes > tarLimit) cb((bad ??= tooLarge(limits, 'maxUnpackedBytes', what)));
      else cb(null, chunk);
    },
  });
  try {
    await pipeline(body, countUpload, createGunzip(), countTar, extract);
  } catch (e) {
    if (bad) throw bad;
    if (e instanceof RollgateError) throw e;
    throw new RollgateError('invalid_input', `${what} upload is not a readable tar.gz archive: ${(e as Error).message}`);
  }
  if (bad) throw bad;
  if (sparseHeaders.length) {
    throw new RollgateError('invalid_input', `${what} archive entry "${sparseHeaders[0]}" is a sparse file; only regular files, directories and symlinks can be shipped: pack it without --sparse, or remove it`);
  }
}

/** Why an entry is refused before anything of it is written, or null. */
function entryProblem(path: string, e: tar.ReadEntry, what: string): RollgateError | null {
  const target = normalize(path);
  if (isAbsolute(target) || target.split(sep).includes('..')) {
    return new RollgateError('invalid_input', `${what} archive entry "${path}" points outside the release directory; remove it`);
  }
  if (!KEPT_TYPES.has(e.type)) {
    return new RollgateError('invalid_input', `${what} archive entry "${path}" is ${TYPE_NAMES[e.type] ?? `of an unsupported type (${e.type})`}; only regular files, directories and symlinks can be shipped: replace it with a regular file or remove it`);
  }
  if (e.type === 'SymbolicLink') {
    const link = e.linkpath ?? '';
    if (!linkTextInside(target, link)) {
      return new RollgateError('invalid_input', `link "${path}" -> "${link}" leads outside the release directory; make it relative and inside, or copy the file in`);
    }
  }
  return null;
}

/** Whether a link at `linkRel` (relative to the release root) stays inside by its text alone. */
export function linkTextInside(linkRel: string, target: string): boolean {
  if (isAbsolute(target)) return false;
  return normalize(join(linkRel, '..', target)).split(sep)[0] !== '..';
}

/**
 * Removes a folder an aborted unpack wrote into. The unpacker may still be finishing a file it
 * had started when the upload was refused, so retry until the folder stays gone.
 */
export async function removeUnpacked(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (let i = 0; i < 5; i++) {
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
    await sleep(20);
    if (!existsSync(dir)) return;
  }
}
