/**
 * Server-sent events read from a fetch body, in Node and in browsers alike (EventSource cannot
 * send an Authorization header, and Node 20 has none). Parses the text/event-stream format:
 * `event`, `data` (joined by newlines), `id` and `retry` fields; a blank line ends an event;
 * comments (`:` heartbeats) are skipped.
 */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

export interface SseFields {
  /** The last `retry:` the server asked for, in ms. */
  retryMs?: number;
}

/** Yields each event of `body` as it completes; ends when the stream does. */
export async function* readSse(body: ReadableStream<Uint8Array>, fields: SseFields = {}): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // At the end a lone trailing \r can no longer become \r\n: it ends its line.
      if (done) {
        if (!buffer.endsWith('\r')) return;
        buffer += '\n';
      } else buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = lineEnd(buffer)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? nl + 2 : nl + 1);
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (name === 'event') event = value;
        else if (name === 'data') data.push(value);
        else if (name === 'id') id = value;
        else if (name === 'retry' && /^\d+$/.test(value)) fields.retryMs = Number(value);
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

const TERMINATOR = /[\r\n]/;

/** Index of the first line terminator (\n, \r or \r\n), or -1 (a lone \r at the end may yet be \r\n). */
function lineEnd(s: string): number {
  // A native search: a data line may be a whole flag state long.
  const i = s.search(TERMINATOR);
  if (i < 0 || s.charCodeAt(i) === 10) return i;
  return i + 1 < s.length ? i : -1;
}
