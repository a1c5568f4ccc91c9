/** Reads a fetch Response body as text, up to a byte limit (a runaway body cannot fill memory). */
export async function readBodyText(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new BodyTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class BodyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the response body is larger than ${Math.round(maxBytes / 1024)} KiB`);
  }
}

/** fetch() failures hide the useful part in `cause` (ECONNREFUSED, ENOTFOUND …). */
export function networkReason(e: unknown): string {
  if (e instanceof BodyTooLarge) return e.message;
  const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  const code = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : null;
  const hints: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is it running, on that port?)',
    ENOTFOUND: 'host not found (check the host name)',
    ECONNRESET: 'connection reset by the server',
    EHOSTUNREACH: 'host unreachable',
    UND_ERR_SOCKET: 'the connection closed before a complete answer',
  };
  if (code && hints[code]) return hints[code] as string;
  if (cause instanceof Error) return cause.message;
  return e instanceof Error ? e.message : String(e);
}
