// Message fields beyond role and content: how a message reaches the chat template, which rendered
// characters its fields own, and which fields the template never reads.
//
// A message goes to the template as the data wrote it: its role name (templateRole when set), its
// content (absent or null when the data had none) and every other field unchanged. Two kinds of
// field are attributed, like content, by rendering the whole chat again with the field changed:
// - reasoning (thinking / reasoning_content / reasoning, assistant messages): the field's text is
//   replaced by one probe character; what changes, aligned with the text, is 'reasoning', and so is
//   the markup from there to what the turn writes next, its content or its tool call (the model
//   writes it to close its reasoning).
// - tool_calls (assistant messages): the chat is rendered without the field (and with "" as the
//   content when it had none); everything that changes is the call, markup included ("<tool_call>\n{…}\n</tool_call>", the JSON): the model
//   writes all of it to call the tool. Where removing it breaks the template (gpt-oss refuses a tool
//   result that follows no call) or the change reaches another message, the span runs instead from
//   the first character that changes with the tool names to the last that changes with the
//   arguments. The special token after the call (gpt-oss's <|call|>) is the turn's end-of-turn
//   token (endOfTurn.ts looks for it after every character of the turn).
// Any other field is rendered without it once: an identical rendering means the template does not
// read it, and the sample's notes say so. A template that refuses a message with no content is
// given "" for it. Roles the template does not know (a "developer" message for a template that
// drops it or only prints the name in a header, "ipython" or "function" for one that only renders
// "tool") are given the role it knows, and the notes say so.
import type { ChatMessage, ChatTokenizer, Conversation, TokenRole, ToolList } from './types';
import { alignWindow, commonPrefix, commonSuffix, unusedPrivateChars, type ContentWindow } from './spans';
import { englishOf, msg, uncoded, type Message } from '../spec/message';

/** Field names that hold an assistant message's reasoning (gpt-oss: thinking; Qwen3, DeepSeek-R1: reasoning_content). */
export const REASONING_FIELDS: readonly string[] = ['thinking', 'reasoning_content', 'reasoning'];

/** What a character of an assistant message is: content, reasoning or a tool call (charPart). */
export const PART_CONTENT = 0;
export const PART_REASONING = 1;
export const PART_TOOL_CALL = 2;
/** The markup between a turn's reasoning and what it writes next, content or tool call (Qwen3's "\n</think>\n\n", gpt-oss's
 *  "<|end|><|start|>assistant<|channel|>final<|message|>"): the model writes it to close its
 *  reasoning, so it is reasoning ('reasoning' role), but it is not typed text. */
export const PART_REASONING_CLOSE = 3;

/** Characters the data typed (content, reasoning), as opposed to markup a field brought. */
export const isTypedPart = (part: number): boolean => part === PART_CONTENT || part === PART_REASONING;

/** Renderings spent on fields per sample (a long chat checks its first fields only). */
const MAX_FIELD_RENDERS = 96;

type Render = (conv: Conversation) => string;

/** The message as the chat template sees it. */
export function templateMessage(m: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.templateRole ?? m.role };
  if (m.noContent !== 'absent') out.content = m.noContent === 'null' ? null : m.content;
  // Spread defines own data properties: a field named "__proto__" stays a field.
  return m.fields ? { ...out, ...m.fields } : out;
}

export function templateMessages(conv: Conversation): Record<string, unknown>[] {
  return conv.map(templateMessage);
}

const own = (o: Readonly<Record<string, unknown>> | undefined, k: string): boolean => o !== undefined && Object.hasOwn(o, k);

/** The message with one field set to `value` (undefined: removed). */
function withField(m: ChatMessage, key: string, value: unknown): ChatMessage {
  const fields = Object.fromEntries(Object.entries(m.fields ?? {}).filter(([k]) => k !== key));
  if (value !== undefined) Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
  return { ...m, fields };
}

function tryRender(render: Render, conv: Conversation): string | null {
  try {
    return render(conv);
  } catch {
    return null;
  }
}

const replaced = (conv: Conversation, k: number, m: ChatMessage): Conversation => conv.map((x, j) => (j === k ? m : x));

/** Position i of R lies strictly inside the text of a special token. */
function insideSpecial(R: string, i: number, specials: readonly string[]): boolean {
  for (const t of specials) for (let j = 1; j < t.length; j++) if (R.startsWith(t, i - j)) return true;
  return false;
}

/** The same change placed further left while a boundary cuts a special token: an inserted
 *  "<tool_call>…</tool_call>" before "<|im_end|>" also diffs as "tool_call>…</tool_call><". */
function settle(R: string, w: { start: number; end: number }, specials: readonly string[]): { start: number; end: number } {
  let { start, end } = w;
  while (start > 0 && end > start && R[start - 1] === R[end - 1] && (insideSpecial(R, start, specials) || insideSpecial(R, end, specials))) {
    start--;
    end--;
  }
  return { start, end };
}

/** [start, end) of what differs between R and another rendering. */
function changed(R: string, other: string): { start: number; end: number } {
  const p = commonPrefix(R, other);
  const s = commonSuffix(R, other, p);
  return { start: p, end: Math.max(p, R.length - s) };
}

/** `echo`: a template that only prints the role name (ChatML, Llama 3's header) does not know it
 *  either: the model never saw a "developer" header. (Not for ipython: Llama 3.1 was trained on it.) */
const ALIASES: readonly { role: ChatMessage['role']; name: string; as: string; echo: boolean }[] = [
  { role: 'developer', name: 'developer', as: 'system', echo: true },
  { role: 'tool', name: 'ipython', as: 'tool', echo: false },
  { role: 'tool', name: 'function', as: 'tool', echo: false },
];

/** The two renderings differ only where one prints `name` and the other `as`. */
function echoes(mine: string, theirs: string, name: string, as: string): boolean {
  const p = commonPrefix(mine, theirs);
  for (let i = 0; i <= Math.min(p, name.length, as.length); i++) {
    const at = p - i;
    if (mine.startsWith(name, at) && theirs.startsWith(as, at) && mine.slice(at + name.length) === theirs.slice(at + as.length)) return true;
  }
  return false;
}

/** A tokenizer's warnings as messages: warningMsgs where a warning is one of them, else its text uncoded
 *  (a tokenizer made elsewhere, or warnings filtered by hand, keeps its words). */
export function warningMessages(tok: ChatTokenizer): Message[] {
  return tok.warnings.map((w) => tok.warningMsgs?.find((m) => englishOf(m) === w) ?? uncoded(w));
}

/** The chat as this template can take it, and what was changed for it (said in the notes):
 *  role names it does not render (or, for developer, only prints) are swapped for the one it does; when it refuses a message with no
 *  content (Qwen3 and Llama 3.1 read the content of every assistant message), those get "". */
export function resolveForTemplate(render: Render, conv: Conversation, label: string): { conv: Conversation; notes: Message[] } {
  const notes: Message[] = [];
  let out = conv;
  const empty = conv.flatMap((m, k) => (m.noContent ? [k] : []));
  if (empty.length > 0 && tryRender(render, conv) === null) {
    const given = conv.map((m) => (m.noContent ? { ...m, noContent: undefined } : m));
    if (tryRender(render, given) !== null) {
      out = given;
      notes.push(empty.length > 1 ? msg('sample.noContentMany', { label, list: empty.join(', ') }) : msg('sample.noContent', { label, list: empty.join(', ') }));
    }
  }
  for (const a of ALIASES) {
    const named = (m: ChatMessage) => m.role === a.role && (m.templateRole ?? m.role) === a.name;
    const k = out.findIndex((m) => named(m) && m.content !== '');
    if (k < 0) continue;
    const probe = unusedPrivateChars([...out.map((m) => m.content)], 1);
    if (!probe) continue;
    const as = (templateRole: string) => tryRender(render, replaced(out, k, { ...out[k], templateRole, content: probe[0] }));
    const [mine, theirs] = [as(a.name), as(a.as)];
    if (theirs === null || !theirs.includes(probe[0])) continue;
    const dropped = mine === null || !mine.includes(probe[0]);
    const echoed = a.echo && mine !== null && echoes(mine, theirs, a.name, a.as);
    if (!dropped && !echoed) continue;
    const which: number[] = [];
    out = out.map((m, j) => {
      if (!named(m)) return m;
      which.push(j);
      return { ...m, templateRole: a.as };
    });
    const why = dropped ? msg('sample.whyRendersNothing') : msg('sample.whyOnlyPrints');
    const role = { label, name: a.name, why, list: which.join(', '), as: a.as };
    notes.push(which.length > 1 ? msg('sample.noRoleMany', role) : msg('sample.noRole', role));
  }
  return { conv: out, notes };
}

export interface FieldAttribution {
  /** (R.length,) PART_* of each character owned by an assistant message. */
  charPart: Uint8Array;
  notes: Message[];
}

/**
 * Claims the characters of R that reasoning and tool-call fields render (in charMessage, as the
 * message's, with charPart saying which), moves the empty window of a message with no content to
 * the end of what its fields render, and notes the fields the template does not read.
 * `specials`: the texts of the added tokens (a span never cuts one).
 */
export function attributeFields(
  render: Render,
  conv: Conversation,
  R: string,
  charMessage: Int32Array,
  windows: ContentWindow[],
  specials: readonly string[],
): FieldAttribution {
  const charPart = new Uint8Array(R.length);
  const notes: Message[] = [];
  let renders = 0;
  let skipped = 0;
  const claim = (start: number, end: number, k: number, part: number, mask?: Uint8Array): number => {
    let n = 0;
    for (let i = start; i < end; i++) {
      if ((!mask || mask[i - start]) && charMessage[i] === -1) {
        charMessage[i] = k;
        charPart[i] = part;
        n++;
      }
    }
    return n;
  };
  const notRead = (key: string, k: number, other = '') => notes.push(other ? msg('sample.fieldReadsInstead', { key, k, other }) : msg('sample.fieldNotUsed', { key, k }));
  /** The reasoning field name this template reads instead, if another one changes the rendering. */
  const readsInstead = (m: ChatMessage, k: number, key: string, value: string): string => {
    for (const other of REASONING_FIELDS) {
      if (other === key || own(m.fields, other) || renders >= MAX_FIELD_RENDERS) continue;
      renders++;
      const r = tryRender(render, replaced(conv, k, withField(withField(m, key, undefined), other, value)));
      if (r !== null && r !== R) return other;
    }
    return '';
  };
  const notFound = (key: string, k: number) =>
    notes.push(msg('sample.fieldNotFound', { key, k }));

  conv.forEach((m, k) => {
    if (!m.fields) return;
    let fieldEnd = -1;
    let reasoningEnd = -1;
    for (const key of Object.keys(m.fields)) {
      if (renders >= MAX_FIELD_RENDERS) {
        skipped++;
        continue;
      }
      const value = m.fields[key];
      if (m.role === 'assistant' && REASONING_FIELDS.includes(key) && typeof value === 'string' && value !== '') {
        renders++;
        const probe = unusedPrivateChars([R, value], 1);
        const Rp = probe ? tryRender(render, replaced(conv, k, withField(m, key, probe[0]))) : null;
        if (Rp === R) {
          notRead(key, k, readsInstead(m, k, key, value));
          continue;
        }
        const w = Rp === null ? null : changed(R, Rp);
        if (w === null || claim(w.start, w.end, k, PART_REASONING, alignWindow(R.slice(w.start, w.end), value).mask) === 0) {
          notFound(key, k);
          continue;
        }
        fieldEnd = Math.max(fieldEnd, w.end);
        let last = w.end;
        while (last > w.start && charPart[last - 1] !== PART_REASONING) last--;
        reasoningEnd = Math.max(reasoningEnd, last);
      } else if (m.role === 'assistant' && key === 'tool_calls' && Array.isArray(value) && value.length > 0) {
        renders++;
        const span = toolCallSpan(render, conv, k, R, charMessage, specials, () => renders++);
        if (span === 'unused') notRead(key, k);
        else if (span && claim(span.start, span.end, k, PART_TOOL_CALL) > 0) fieldEnd = Math.max(fieldEnd, span.end);
        else notFound(key, k);
      } else {
        renders++;
        if (tryRender(render, replaced(conv, k, withField(m, key, undefined))) === R) notRead(key, k);
      }
    }
    // The markup from the reasoning to what the turn writes next (its content or its tool call),
    // when nothing else lies between: the model writes it to close the reasoning.
    if (reasoningEnd >= 0) {
      let next = reasoningEnd;
      while (next < R.length && charMessage[next] === -1) next++;
      if (next < R.length && next > reasoningEnd && charMessage[next] === k) claim(reasoningEnd, next, k, PART_REASONING_CLOSE);
    }
    // A message with no content: its (empty) window sits where its fields end, so its end-of-turn
    // token is looked for after them.
    if (m.content === '' && fieldEnd >= 0) windows[k] = { start: fieldEnd, end: fieldEnd, matched: 0, verbatim: true };
  });
  if (skipped > 0) notes.push(msg('sample.fieldsSkipped', { n: skipped, max: MAX_FIELD_RENDERS }));
  return { charPart, notes };
}

/** The span of R that message k's tool calls render; 'unused' when R does not change without them. */
function toolCallSpan(
  render: Render,
  conv: Conversation,
  k: number,
  R: string,
  charMessage: Int32Array,
  specials: readonly string[],
  spend: () => void,
): { start: number; end: number } | 'unused' | null {
  const m = conv[k];
  const calls = m.fields?.tool_calls as unknown[];
  const bare = withField(m, 'tool_calls', undefined);
  // Without the calls; a template that then needs content (Llama 3.1 trims it) gets "" when there was none.
  for (const without of [bare, ...(m.noContent ? [{ ...bare, noContent: undefined }] : [])]) {
    const other = tryRender(render, replaced(conv, k, without));
    if (other === R) return 'unused';
    if (other === null) continue;
    const w = settle(R, changed(R, other), specials);
    let foreign = false;
    for (let i = w.start; i < w.end && !foreign; i++) foreign = charMessage[i] >= 0 && charMessage[i] !== k;
    if (!foreign) return w;
  }
  // Change the names, then the arguments, of every call (same shapes, new values).
  const probes = unusedPrivateChars([R], 2);
  if (!probes) return null;
  const edit = (f: (fn: Record<string, unknown>) => Record<string, unknown>) =>
    calls.map((c) => {
      if (typeof c !== 'object' || c === null) return c;
      const call = c as Record<string, unknown>;
      const fn = own(call, 'function') && typeof call.function === 'object' && call.function !== null ? (call.function as Record<string, unknown>) : null;
      return fn ? { ...call, function: f(fn) } : f(call);
    });
  spend();
  const renamed = tryRender(render, replaced(conv, k, withField(m, 'tool_calls', edit((fn) => ({ ...fn, name: `${probes[0]}${String(fn.name)}` })))));
  spend();
  const reargued = tryRender(
    render,
    replaced(conv, k, withField(m, 'tool_calls', edit((fn) => ({ ...fn, arguments: probes[1] })))),
  );
  if (renamed === null || reargued === null || renamed === R || reargued === R) return null;
  // Arguments become a bare string: no closing bracket or quote is shared with the real ones.
  const start = changed(R, renamed).start;
  const end = changed(R, reargued).end;
  return end > start ? { start, end } : null;
}

/** The tools argument as the template gets it: only when the data has some. */
export function toolsArgument(tools: ToolList | null | undefined): { tools?: unknown[] } {
  return tools && tools.length > 0 ? { tools: [...tools] } : {};
}

/** The nearest earlier character of message k, before `at`, is part of its tool call (and no other
 *  message's character lies between). */
export function followsToolCall(charMessage: Int32Array, charPart: Uint8Array, at: number, k: number): boolean {
  for (let j = at - 1; j >= 0; j--) {
    if (charMessage[j] === k) return charPart[j] === PART_TOOL_CALL;
    if (charMessage[j] >= 0) return false;
  }
  return false;
}

/** Role of a rendered character: its message's, with an assistant message's parts told apart. */
export function charRole(conv: Conversation, msg: number, part: number): TokenRole {
  if (msg < 0) return 'template';
  const r = conv[msg].role;
  if (r === 'assistant') return part === PART_REASONING || part === PART_REASONING_CLOSE ? 'reasoning' : part === PART_TOOL_CALL ? 'tool_call' : 'assistant';
  return r === 'developer' ? 'system' : r;
}

/** A token with characters of several roles takes the first of these it has (the part of the answer
 *  the model must produce), else its first role that is not template. */
export const ASSISTANT_SIDE: readonly TokenRole[] = ['assistant', 'tool_call', 'reasoning'];

/** The tokenizer with the sample's tools bound into every rendering. */
export function withTools(tok: ChatTokenizer, tools: ToolList | null | undefined): ChatTokenizer {
  if (!tools || tools.length === 0) return tok;
  return {
    ...tok,
    render: (conv, addGenerationPrompt) => tok.render(conv, addGenerationPrompt, tools),
    renderWith: (template, conv, addGenerationPrompt) => tok.renderWith(template, conv, addGenerationPrompt, tools),
  };
}
