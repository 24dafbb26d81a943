// Where a Jinja chat template is wrong, in line and column. The Jinja engine transformers.js uses
// (@huggingface/jinja) reports "Unexpected token: CloseStatement" without a position, so the
// position is found here: the template is parsed tag by tag ({% … %}, {{ … }}, {# … #}); the first
// prefix that fails with anything but "the input ended early" holds the error in its last tag. A
// template that only ends early has an unclosed block: the last opener without its end tag.
// Render-time errors (an unknown filter, a test that does not exist) name the identifier; the first
// tag that uses it is where they point.
import { Template } from '@huggingface/jinja';
import { msg, uncoded, worded, type Message } from '../spec/message';

export interface TemplateProblem {
  /** English; msg for every language (the Jinja engine's own words stay English, uncoded). */
  message: string;
  msg: Message;
  /** 1-based, UTF-16 columns. */
  line: number;
  column: number;
}

interface Tag {
  start: number;
  end: number;
  body: string;
}

const TAG = /\{%-?[\s\S]*?-?%\}|\{\{-?[\s\S]*?-?\}\}|\{#[\s\S]*?#\}/g;
const OPENERS = new Map([
  ['for', 'endfor'], ['if', 'endif'], ['macro', 'endmacro'], ['call', 'endcall'], ['filter', 'endfilter'], ['generation', 'endgeneration'], ['raw', 'endraw'],
]);
// How the engine says the input ended inside a block or tag (it reads past the last token).
const ENDS_EARLY = /Unexpected end of (input|template)|Expected .*(end|EOF)|reading 'type'/i;

function lineColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let from = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) {
    line++;
    from = i + 1;
  }
  return { line, column: at - from + 1 };
}

const tagsOf = (text: string): Tag[] => [...text.matchAll(TAG)].map((m) => ({ start: m.index, end: m.index + m[0].length, body: m[0] }));

const parses = (text: string): string | null => {
  try {
    new Template(text);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
};

const keyword = (t: Tag): string | null => /^\{%-?\s*(\w+)/.exec(t.body)?.[1] ?? null;

/** The syntax error of `text`, with its position; null when it parses. */
export function syntaxProblem(text: string): TemplateProblem | null {
  const whole = parses(text);
  if (whole === null) return null;
  const tags = tagsOf(text);
  for (const t of tags) {
    const err = parses(text.slice(0, t.end));
    if (err !== null && !ENDS_EARLY.test(err)) return { ...worded(msg('template.inTag', { detail: uncoded(err), tag: t.body.length > 60 ? `${t.body.slice(0, 57)}…` : t.body })), ...lineColumn(text, t.start) };
  }
  // Only "ended early": an unclosed block, or an unclosed tag.
  const open = text.search(/\{[%{#](?![\s\S]*?[%}#]\})/);
  if (open >= 0 && !tags.some((t) => t.start === open)) return { ...worded(msg('template.tagNotClosed')), ...lineColumn(text, open) };
  const stack: Tag[] = [];
  for (const t of tags) {
    const k = keyword(t);
    if (k && OPENERS.has(k)) stack.push(t);
    else if (k?.startsWith('end') && stack.length && OPENERS.get(keyword(stack[stack.length - 1]) as string) === k) stack.pop();
  }
  const last = stack[stack.length - 1];
  if (last) return { ...worded(msg('template.blockNotClosed', { open: keyword(last) as string, end: OPENERS.get(keyword(last) as string) as string })), ...lineColumn(text, last.start) };
  return { ...worded(ENDS_EARLY.test(whole) ? msg('template.endsInside') : uncoded(whole)), ...lineColumn(text, text.length) };
}

/** A render-time error's position: the first tag using the identifier the message names. */
export function renderProblem(text: string, message: string): TemplateProblem {
  const name = /(?:filter|test|function|variable|macro)[:\s]+['"]?(\w+)/i.exec(message)?.[1] ?? /:\s*(\w+)\s*$/.exec(message)?.[1];
  const tag = name ? tagsOf(text).find((t) => new RegExp(`\\b${name}\\b`).test(t.body)) : undefined;
  return { message, msg: uncoded(message), ...lineColumn(text, tag?.start ?? 0) };
}
