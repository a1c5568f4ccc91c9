/** No isolation: the command runs as the platform's own OS user and sees what it sees. */
import type { Isolation, Launch, LaunchRequest } from './types.js';

export class PlainLaunch implements Isolation {
  readonly kind = 'none' as const;
  readonly summary = 'none: runs as the platform user and can read its data directory';

  async launch(req: LaunchRequest): Promise<Launch> {
    return { file: '/bin/sh', args: ['-c', req.command], env: {} };
  }
}
