/**
 * Bounds on what one uploaded archive (a release, or a pipeline's source) may hold, and how many
 * releases of an app the platform keeps. The compressed size alone is no bound: a few MB of gzip
 * unpack to gigabytes, so unpacked bytes and entries are counted too.
 */
import { z } from 'zod';

export interface ArchiveLimits {
  /** Bytes of the upload as sent (compressed). */
  maxUploadBytes: number;
  /** Bytes of file content once unpacked. */
  maxUnpackedBytes: number;
  /** Entries (files, directories, links) once unpacked. */
  maxFiles: number;
}

export interface ReleasePolicy extends ArchiveLimits {
  /** Releases of an app kept by the automatic pruning (newest first), besides every protected one. */
  keep: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const DEFAULT_RELEASE_POLICY: ReleasePolicy = {
  maxUploadBytes: 512 * MiB,
  maxUnpackedBytes: 2 * GiB,
  maxFiles: 100_000,
  keep: 10,
};

/** The server flags that raise each limit, named in the 413 so the operator knows what to change. */
export const LIMIT_FLAGS: Record<keyof ArchiveLimits, string> = {
  maxUploadBytes: '--release-max-upload',
  maxUnpackedBytes: '--release-max-unpacked',
  maxFiles: '--release-max-files',
};

/** `1.5GiB`, `512MiB`, `10MB`, `4096` (bytes). Binary and decimal units, case-insensitive. */
export const ByteSize = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?\s*([kmgt]i?b?|b)?$/i, { message: 'give a size such as 2GiB, 500MiB, 10MB or a number of bytes' })
  .transform((s) => {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?$/i.exec(s)!;
    const base = m[3] ? 1024 : 1000;
    const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
    return Math.floor(Number(m[1]) * base ** Math.max(power, 0));
  })
  .pipe(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER));

/** Bytes as a person reads them: 2 GiB, 10 MiB, 512 KiB, 100 bytes. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['GiB', GiB], ['MiB', MiB], ['KiB', 1024]] as const) {
    if (n >= size) return `${Number((n / size).toFixed(n % size === 0 ? 0 : 1))} ${unit}`;
  }
  return `${n} bytes`;
}
