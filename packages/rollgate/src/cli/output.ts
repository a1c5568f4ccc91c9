/**
 * Everything a command prints goes through here, so `--json` prints exactly one document on
 * stdout and human chatter never mixes into it, and so no control character or bidi override
 * that came from the server reaches the terminal as such (cli/terminal-text.ts): human text is
 * escaped, JSON keeps its exact values with those characters as \u escapes.
 */
import { errorCode, isUserError, ApiError } from './exit.js';
import { errorMessage, isRollgateError } from '../core/errors.js';
import { terminalJson, terminalText } from './terminal-text.js';

export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** The command's result: the JSON document, or the human text. */
  result(doc: unknown, human: () => string): void {
    if (this.json) this.stdout.write(terminalJson(doc) + '\n');
    else {
      const text = terminalText(human());
      if (text !== '') this.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** A progress line for people; silent with --json. */
  info(line: string): void {
    if (!this.json) this.stdout.write(terminalText(line) + '\n');
  }

  /** A warning that does not stop the command (stderr in both modes). */
  warn(line: string): void {
    this.stderr.write(`warning: ${terminalText(line)}\n`);
  }

  /** Prints an error: `error: …` on stderr, and with --json `{"error":{code,message}}` on stdout (plus `extra` fields). */
  error(e: unknown, extra?: Record<string, unknown>): void {
    const code = errorCode(e);
    const message = errorMessage(e);
    const shown = terminalText(message);
    const debug = process.env.ROLLGATE_DEBUG === '1';
    if (e instanceof ApiError) this.stderr.write(`error: ${shown} (${terminalText(code)})\n`);
    else if (isUserError(e) || !debug) this.stderr.write(`error: ${shown}\n`);
    if (!isUserError(e) && debug && e instanceof Error) this.stderr.write(`${terminalText(e.stack ?? message)}\n`);
    if (this.json) {
      const details = (isRollgateError(e) || e instanceof ApiError) && e.details !== undefined ? { details: e.details } : {};
      this.stdout.write(terminalJson({ ...extra, error: { code, message, ...details } }) + '\n');
    }
  }
}
