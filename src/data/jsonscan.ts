// A small JSON scanner used only when something went wrong: JSON.parse gives no position in
// some engines (Safari, older V8 "Unexpected token"), and never gives positions of values.
// - findJsonError(text): offset + description of the first syntax error (RFC 8259 grammar).
// - locateJsonPath(text, path): offset where the value at `path` (e.g. ['messages', 3]) starts.
// - findTooDeep(text): offset of the first bracket that opens level MAX_JSON_DEPTH + 1 (iterative).
// Offsets are UTF-16 indices into `text`; lineColumn() turns them into 1-based line/column.
// The scanner recurses once per nesting level, so it refuses to go deeper than MAX_JSON_DEPTH:
// a pasted 5,000-level array would otherwise overflow the stack.

import { CodedError, msg, type Message } from '../spec/message';

/** Deepest nesting of arrays and objects accepted in a pasted JSON text (a chat sample needs about 5). */
export const MAX_JSON_DEPTH = 1000;

export interface JsonSyntaxError {
  offset: number;
  message: string;
  msg: Message;
}

type PathKey = string | number;

class ScanFailure extends CodedError {
  constructor(
    readonly offset: number,
    m: Message,
  ) {
    super(m);
  }
}

/** Characters that print as nothing (or as a blank): named by code point, never quoted bare. */
const INVISIBLE = /[\p{C}\p{Z}]/u;

function describe(ch: string | undefined): Message {
  if (ch === undefined) return msg('json.ch.end');
  if (ch === '\n') return msg('json.ch.lineBreak');
  if (ch === '\uFEFF') return msg('json.ch.bom');
  if (ch !== ' ' && INVISIBLE.test(ch)) return msg('json.ch.invisible', { cp: ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0') });
  return msg('json.ch.char', { ch });
}

class Scanner {
  i = 0;
  found: number | null = null;
  constructor(
    readonly s: string,
    readonly target: PathKey[] | null,
  ) {}

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  fail(m: Message): never {
    throw new ScanFailure(this.i, m);
  }

  expect(ch: string, what: Message): void {
    if (this.s[this.i] !== ch) this.fail(msg('json.expected', { what, found: describe(this.s[this.i]) }));
    this.i++;
  }

  /** path = keys from the root to this value; used to record the target's offset. */
  value(path: PathKey[]): void {
    this.ws();
    if (path.length >= MAX_JSON_DEPTH && (this.s[this.i] === '[' || this.s[this.i] === '{')) {
      this.fail(msg('json.nested', { max: MAX_JSON_DEPTH }));
    }
    if (this.target && this.found === null && sameKeys(path, this.target)) this.found = this.i;
    const c = this.s[this.i];
    if (c === '{') this.object(path);
    else if (c === '[') this.array(path);
    else if (c === '"') this.string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.number();
    else if (c === 't') this.literal('true');
    else if (c === 'f') this.literal('false');
    else if (c === 'n') this.literal('null');
    else if (c === undefined) this.fail(msg('json.endMissingValue'));
    else if (c === "'") this.fail(msg('json.singleQuotes'));
    else this.fail(msg('json.unexpectedValue', { found: describe(c) }));
  }

  object(path: PathKey[]): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') this.fail(msg('json.trailingCommaObject'));
      if (this.s[this.i] !== '"') this.fail(msg('json.expectedName', { found: describe(this.s[this.i]) }));
      const keyStart = this.i;
      this.string();
      const key = JSON.parse(this.s.slice(keyStart, this.i)) as string;
      this.ws();
      this.expect(':', msg('json.what.colonAfterName'));
      this.value([...path, key]);
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return;
      }
      this.fail(msg('json.expectedCommaObject', { found: describe(c) }));
    }
  }

  array(path: PathKey[]): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (let k = 0; ; k++) {
      this.ws();
      if (this.s[this.i] === ']') this.fail(msg('json.trailingCommaArray'));
      this.value([...path, k]);
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return;
      }
      this.fail(msg('json.expectedCommaArray', { found: describe(c) }));
    }
  }

  string(): void {
    const s = this.s;
    this.i++;
    for (;;) {
      if (this.i >= s.length) this.fail(msg('json.unterminated'));
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        return;
      }
      if (c < 0x20) this.fail(msg(c === 0x0a ? 'json.lineBreakInString' : 'json.controlInString'));
      if (c === 0x5c) {
        const e = s[this.i + 1];
        this.i++; // errors point at the character after the backslash, as V8 does
        if (e === 'u') {
          this.i++;
          for (let k = 0; k < 4; k++, this.i++) {
            if (!/[0-9a-fA-F]/.test(s[this.i] ?? '')) this.fail(msg('json.badUnicodeEscape'));
          }
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) this.i++;
        else this.fail(msg('json.badEscape', { escape: `\\${e ?? ''}` }));
      } else this.i++;
    }
  }

  number(): void {
    // Fail at the first character that cannot continue the number (where V8 reports it).
    const s = this.s;
    const digits = (): number => {
      const from = this.i;
      while (this.i < s.length && s.charCodeAt(this.i) >= 0x30 && s.charCodeAt(this.i) <= 0x39) this.i++;
      return this.i - from;
    };
    if (s[this.i] === '-') this.i++;
    if (s[this.i] === '0') this.i++;
    else if (digits() === 0) this.fail(msg('json.number.digit'));
    if (s[this.i] === '.') {
      this.i++;
      if (digits() === 0) this.fail(msg('json.number.fraction'));
    }
    if (s[this.i] === 'e' || s[this.i] === 'E') {
      this.i++;
      if (s[this.i] === '+' || s[this.i] === '-') this.i++;
      if (digits() === 0) this.fail(msg('json.number.exponent'));
    }
  }

  literal(word: string): void {
    const start = this.i;
    for (let k = 0; k < word.length; k++, this.i++) {
      if (this.s[this.i] !== word[k]) {
        if (k === 0) this.fail(msg('json.unexpectedWord', { found: describe(this.s[this.i]) }));
        this.fail(msg('json.didYouMean', { found: describe(this.s[this.i]), text: this.s.slice(start, this.i + 1), word }));
      }
    }
  }

  document(): void {
    this.value([]);
    this.ws();
    if (this.i < this.s.length) this.fail(msg('json.afterEnd', { found: describe(this.s[this.i]) }));
  }
}

function sameKeys(a: PathKey[], b: PathKey[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

export function findJsonError(text: string): JsonSyntaxError | null {
  const sc = new Scanner(text, null);
  try {
    sc.document();
    return null;
  } catch (e) {
    if (e instanceof ScanFailure) return { offset: e.offset, message: e.message, msg: e.msg };
    throw e;
  }
}

/** Offset of the value at `path` in a valid JSON text, or null when absent. */
export function locateJsonPath(text: string, path: PathKey[]): number | null {
  const sc = new Scanner(text, path);
  try {
    sc.document();
  } catch (e) {
    if (!(e instanceof ScanFailure)) throw e;
  }
  return sc.found;
}

/** Offset of the first '[' or '{' that opens nesting level MAX_JSON_DEPTH + 1, or null. A
 *  bracket count outside strings, without recursion; it does not check the rest of the syntax. */
export function findTooDeep(text: string, max = MAX_JSON_DEPTH): number | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return null;
}

/** 1-based line and column (in UTF-16 units) of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf('\n'); k !== -1 && k < offset; k = text.indexOf('\n', k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Offset of a 1-based line/column pair (clamped to the text). */
export function offsetOf(text: string, line: number, column: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const k = text.indexOf('\n', off);
    if (k === -1) return text.length;
    off = k + 1;
  }
  return Math.min(text.length, off + column - 1);
}
