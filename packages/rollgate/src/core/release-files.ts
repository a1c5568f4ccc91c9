/** What a release holds, shared by the CLI that packs a directory and the server that copies one. */

/** Directory names never shipped in a release (at any depth): version control and our own state. */
export const SKIPPED_NAMES: ReadonlySet<string> = new Set(['.git', '.rollgate']);
