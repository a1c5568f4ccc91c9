/**
 * Text the CLI did not write itself (reasons, messages, names, log lines from the server) must
 * not drive the terminal: an escape sequence could clear the screen or move the cursor and print
 * a fake "succeeded", a bidi override could reverse what is read. Every character that is not
 * plain text is shown escaped (`\x1b`, `\r`, `\u202e`), so the reader still sees something was
 * there. Output (cli/output.ts) applies this to everything it prints; the formatting helpers
 * apply `oneLine` to fields that must not break a line.
 */

/**
 * C0 controls, DEL, C1 controls, and the invisible format characters that can spoof what is
 * read: zero-width and direction marks (U+200B–U+200F), bidi embeddings and overrides
 * (U+202A–U+202E), isolates (U+2066–U+2069), the Arabic letter mark (U+061C), the line and
 * paragraph separators (U+2028/U+2029) and the zero-width no-break space (U+FEFF).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Multi-line text for the terminal: newlines and tabs kept, every other control shown escaped. */
export function terminalText(text: string): string {
  return text.replace(UNSAFE_KEEP_LINES, escape);
}

/** A field that must stay on its line (a name, a reason in a table cell): newlines escaped too. */
export function oneLine(text: string | null | undefined): string {
  return (text ?? '').replace(UNSAFE, escape);
}

/**
 * JSON for a terminal, the same document: JSON.stringify escapes C0 controls already; the rest
 * (DEL, C1, bidi and invisible format characters) can only occur inside strings, where a
 * `\uXXXX` escape is the same value, so a parser reads exactly what the server sent.
 */
export function terminalJson(doc: unknown, indent = 2): string {
  return jsonTextForTerminal(JSON.stringify(doc, null, indent) ?? 'null');
}

/**
 * The same escaping for JSON text received as is (e.g. an export in JSON lines). Raw C0 controls
 * other than newline and tab are invalid in JSON anyway; they are escaped too, so nothing from
 * the stream can reach the terminal as a control.
 */
export function jsonTextForTerminal(json: string): string {
  return json.replace(UNSAFE_KEEP_LINES, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
