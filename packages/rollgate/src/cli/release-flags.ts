/** The server's release limits and retention as flags of `rollgate server` and `rollgate up`. */
import type { Command } from 'commander';
import { z } from 'zod';
import { ByteSize, DEFAULT_RELEASE_POLICY, LIMIT_FLAGS, formatBytes, type ReleasePolicy } from '../core/release-limits.js';
import { IntString } from './command.js';

export const ReleaseFlags = z.object({
  releaseMaxUpload: ByteSize.optional(),
  releaseMaxUnpacked: ByteSize.optional(),
  releaseMaxFiles: IntString(1, 100_000_000).optional(),
  releaseKeep: IntString(0, 100_000).optional(),
});

export function releaseFlags(cmd: Command): Command {
  const d = DEFAULT_RELEASE_POLICY;
  return cmd
    .option(`${LIMIT_FLAGS.maxUploadBytes} <size>`, `largest release or source upload as sent, compressed (default ${formatBytes(d.maxUploadBytes)})`)
    .option(`${LIMIT_FLAGS.maxUnpackedBytes} <size>`, `largest release once unpacked (default ${formatBytes(d.maxUnpackedBytes)})`)
    .option(`${LIMIT_FLAGS.maxFiles} <n>`, `most files, directories and links in one release (default ${d.maxFiles})`)
    .option('--release-keep <n>', `releases per app kept by automatic pruning, besides those running, stable or rollback targets (default ${d.keep})`);
}

export function releasePolicyOf(o: z.infer<typeof ReleaseFlags>): Partial<ReleasePolicy> {
  return {
    ...(o.releaseMaxUpload === undefined ? {} : { maxUploadBytes: o.releaseMaxUpload }),
    ...(o.releaseMaxUnpacked === undefined ? {} : { maxUnpackedBytes: o.releaseMaxUnpacked }),
    ...(o.releaseMaxFiles === undefined ? {} : { maxFiles: o.releaseMaxFiles }),
    ...(o.releaseKeep === undefined ? {} : { keep: o.releaseKeep }),
  };
}
