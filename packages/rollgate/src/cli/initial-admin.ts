/**
 * The first start creates the admin: its password and token are shown straight to the terminal
 * (stderr, outside any --json document and outside the server's log). The password is also kept
 * in `<data-dir>/initial-admin.txt` (0600) until that admin first logs in; every start says so
 * while the file exists, so a failed or unseen first start does not lose it.
 */
import { relative } from 'node:path';

export interface InitialAdminInfo {
  initialAdmin?: { user: string; password: string; token: string | null } | undefined;
  initialAdminFile: string | null;
}

const shown = (file: string) => {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') ? file : rel;
};

/** `withPassword: false` (a background `up` whose output goes to a log) names the file only. */
export function printInitialAdmin(server: InitialAdminInfo, opts: { withPassword?: boolean } = {}): void {
  const a = server.initialAdmin;
  const file = server.initialAdminFile;
  if (a && opts.withPassword !== false) {
    process.stderr.write(
      [
        '',
        '=== first start: an admin was created ===',
        `  user:     ${a.user}`,
        `  password: ${a.password}`,
        ...(file ? [`            (kept in ${shown(file)}, mode 0600, until ${a.user} first logs in: \`rollgate login\`)`] : []),
        ...(a.token ? [`  token:    ${a.token}   (also in <data-dir>/api.token, mode 0600)`] : []),
        '  Create named users with `rollgate users add`, then `rollgate login`.',
        '',
      ].join('\n') + '\n',
    );
    return;
  }
  if (file) {
    process.stderr.write(`the first admin has not logged in yet: its one-time password is in ${shown(file)} (mode 0600; deleted at its first \`rollgate login\`)\n`);
  }
}
