/**
 * The first start creates the admin: its password and token are shown once, here, straight to the
 * terminal (stderr, outside any --json document and outside the server's log).
 */
export function printInitialAdmin(server: { initialAdmin?: { user: string; password: string; token: string | null } | undefined }): void {
  const a = server.initialAdmin;
  if (!a) return;
  process.stderr.write(
    [
      '',
      '=== first start: an admin was created; these are shown only now ===',
      `  user:     ${a.user}`,
      `  password: ${a.password}`,
      ...(a.token ? [`  token:    ${a.token}   (also in <data-dir>/api.token, mode 0600)`] : []),
      '  Create named users with `rollgate users add`, then `rollgate login`.',
      '',
    ].join('\n') + '\n',
  );
}
