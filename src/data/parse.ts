// Pasted text → conversations. Five input formats, detected from the text itself:
//   openai-array        [{"role": "user", "content": "…"}, …]                       (one sample)
//   messages-object     {"messages": [ …openai messages… ]}                        (one sample)
//   sharegpt            {"conversations": [{"from": "human"|"gpt"|"system", "value": "…"}]}
//   jsonl               one JSON sample per line, any of the three shapes above      (a dataset)
//   role-prefixed-text  lines starting "System:", "User:", "Assistant:" (case-insensitive)
// A JSON array whose elements are themselves samples (arrays or objects with messages /
// conversations) is also accepted as a dataset and reported with the element's format.
//
// Errors name the place: 1-based line/column in the pasted text and the 0-based message index;
// a JSONL sample is named by its 1-based line. A broken JSONL line does not cost the others: every
// broken line is reported (the first MAX_LINE_ERRORS of them listed, the rest counted) and the good
// lines are the dataset. A leading UTF-8 byte-order mark is removed (and the format label says
// so); JSON nested deeper than MAX_JSON_DEPTH is refused with the place it gets too deep.
// Role names are looked up in Maps: a role such as "constructor" or "__proto__" is an unknown
// role, not a property of Object.prototype.
// Fields beyond role and content (thinking, reasoning_content, tool_calls, tool_call_id, name, any
// other) are kept as the message's `fields` and given to the template unchanged; they are read as
// own properties, so a field named "__proto__" is data. An assistant message may have no content
// when it calls a tool or carries reasoning. A sample object's top-level "tools" array is kept for
// the template's `tools` argument. ShareGPT "function_call" / "observation" turns (LLaMA-Factory)
// become an assistant message with tool_calls and a tool result. JSON.parse positions differ by engine
// ("at position N" in V8, "line L column C" in Firefox/new V8, none in Safari), so the position
// is read from the message when present and otherwise found by our own scanner (jsonscan.ts).
import type { ChatMessage, Conversation, InputError, InputFormat, LineErrors, MessageRole, ParseResult, ToolList } from './types';
import { REASONING_FIELDS } from './fields';
import { MAX_JSON_DEPTH, findJsonError, findTooDeep, lineColumn, locateJsonPath, offsetOf } from './jsonscan';
import { CodedError, englishOf, msg, uncoded, worded, type Message } from '../spec/message';

export { MAX_JSON_DEPTH };
/** Broken JSONL lines listed one by one; the rest are counted. */
export const MAX_LINE_ERRORS = 20;
const BOM = '\uFEFF';

/** A format label (messages `format.*`), in English and coded. */
const labelled = (m: Message) => ({ formatLabel: englishOf(m), formatMsg: m });


type PathKey = string | number;

/** A problem inside a JSON value, located later by its path (offsets are computed on demand). */
class SampleProblem extends CodedError {
  constructor(
    m: Message,
    readonly path: PathKey[],
  ) {
    super(m);
  }
}

/** Role name → role, and the name the template is given when that is not the role itself. */
interface RoleName {
  role: MessageRole;
  templateRole?: string;
}

const OPENAI_ROLES: ReadonlyMap<string, RoleName> = new Map([
  ['system', { role: 'system' }],
  ['developer', { role: 'developer' }],
  ['user', { role: 'user' }],
  ['assistant', { role: 'assistant' }],
  ['tool', { role: 'tool' }],
  ['ipython', { role: 'tool', templateRole: 'ipython' }],
  ['function', { role: 'tool', templateRole: 'function' }],
]);

const SHAREGPT_ROLES: ReadonlyMap<string, MessageRole> = new Map([
  ['system', 'system'],
  ['human', 'user'],
  ['user', 'user'],
  ['gpt', 'assistant'],
  ['assistant', 'assistant'],
  ['model', 'assistant'],
  ['chatgpt', 'assistant'],
  ['tool', 'tool'],
  ['observation', 'tool'],
]);

const has = (o: object, key: string) => Object.hasOwn(o, key);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): Message {
  if (v === undefined) return msg('kind.missing');
  if (v === null) return msg('kind.null');
  if (Array.isArray(v)) return msg('kind.array');
  if (typeof v === 'object') return msg('kind.object');
  return msg('kind.typeOf', { type: typeof v });
}

/** An unpaired UTF-16 surrogate (JSON allows "\ud800"); it has no UTF-8 encoding to tokenize. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function checkContent(content: string, k: number, role: MessageRole, path: PathKey[]): string {
  if (content.trim() === '') {
    throw new SampleProblem(msg('parse.empty', { k, role }), path);
  }
  const bad = LONE_SURROGATE.exec(content);
  if (bad) {
    const hex = bad[0].charCodeAt(0).toString(16);
    throw new SampleProblem(msg('parse.surrogate', { k, role, hex, at: bad.index }), path);
  }
  return content;
}

/** OpenAI content: a string, or an array of {type: "text", text} parts (joined). `optional`: the
 *  message may have none (an assistant's tool call or reasoning): absent, null or "" give "". */
function openaiContent(c: unknown, k: number, role: MessageRole, path: PathKey[], optional = false): string {
  if (optional && (c === undefined || c === null || c === '')) return '';
  if (typeof c === 'string') return checkContent(c, k, role, path);
  if (Array.isArray(c)) {
    let out = '';
    c.forEach((part, j) => {
      if (isObject(part) && part.type === 'text' && typeof part.text === 'string') out += part.text;
      else {
        const type = isObject(part) && typeof part.type === 'string' ? `"${part.type}"` : kindOf(part);
        throw new SampleProblem(msg('parse.contentPart', { k, role, j, type }), [...path, j]);
      }
    });
    return checkContent(out, k, role, path);
  }
  if (c === undefined) throw new SampleProblem(msg('parse.noContent', { k, role }), path.slice(0, -1));
  throw new SampleProblem(msg('parse.contentKind', { k, role, kind: kindOf(c) }), path);
}

/** The message's fields other than role and content, checked where the page reads them. */
function otherFields(m: Record<string, unknown>, k: number, role: MessageRole, mp: PathKey[]): Record<string, unknown> | null {
  const keys = Object.keys(m).filter((key) => key !== 'role' && key !== 'content');
  if (keys.length === 0) return null;
  for (const key of keys) {
    const v = m[key];
    if (role === 'assistant' && REASONING_FIELDS.includes(key) && v !== null && typeof v !== 'string') {
      throw new SampleProblem(msg('parse.reasoningKind', { k, role, key, kind: kindOf(v) }), [...mp, key]);
    }
    if (typeof v === 'string' && LONE_SURROGATE.test(v)) {
      throw new SampleProblem(msg('parse.fieldSurrogate', { k, role, key }), [...mp, key]);
    }
    if (key === 'tool_calls' && v !== null && !(Array.isArray(v) && v.every(isObject))) {
      throw new SampleProblem(msg('parse.toolCallsKind', { k, role, kind: kindOf(v) }), [...mp, key]);
    }
  }
  // fromEntries defines own data properties: a "__proto__" key stays a key.
  return Object.fromEntries(keys.map((key) => [key, m[key]]));
}

/** An assistant message that calls a tool or carries reasoning may have no content. */
function mayBeEmpty(role: MessageRole, fields: Record<string, unknown> | null): boolean {
  if (role !== 'assistant' || !fields) return false;
  const calls = has(fields, 'tool_calls') ? fields.tool_calls : undefined;
  return (Array.isArray(calls) && calls.length > 0) || REASONING_FIELDS.some((f) => has(fields, f) && typeof fields[f] === 'string' && fields[f] !== '');
}

function openaiMessages(list: unknown[], path: PathKey[]): Conversation {
  if (list.length === 0) throw new SampleProblem(msg('parse.noMessages'), path);
  return list.map((m, k): ChatMessage => {
    const mp = [...path, k];
    if (!isObject(m)) throw new SampleProblem(msg('parse.messageKind', { k, kind: kindOf(m) }), mp);
    if (typeof m.role !== 'string') {
      throw new SampleProblem(msg(has(m, 'from') ? 'parse.noRoleShareGpt' : 'parse.noRole', { k }), mp);
    }
    const named = OPENAI_ROLES.get(m.role.toLowerCase());
    if (!named) {
      throw new SampleProblem(msg('parse.unknownRole', { k, role: m.role }), [...mp, 'role']);
    }
    const { role, templateRole } = named;
    const fields = otherFields(m, k, role, mp);
    const raw = has(m, 'content') ? m.content : undefined;
    const out: ChatMessage = { role, content: openaiContent(raw, k, role, [...mp, 'content'], mayBeEmpty(role, fields)) };
    if (templateRole) out.templateRole = templateRole;
    if (raw === undefined || raw === null) out.noContent = raw === null ? 'null' : 'absent';
    if (fields) out.fields = fields;
    return out;
  });
}

/** A sample object's top-level "tools": an array (or, as LLaMA-Factory writes it, a JSON string of one). */
function toolsOf(v: Record<string, unknown>, path: PathKey[]): ToolList | null {
  if (!has(v, 'tools') || v.tools === null) return null;
  let t = v.tools;
  if (typeof t === 'string') {
    try {
      t = JSON.parse(t);
    } catch {
      throw new SampleProblem(msg('parse.toolsNotJson'), [...path, 'tools']);
    }
  }
  if (!Array.isArray(t)) throw new SampleProblem(msg('parse.toolsKind', { kind: kindOf(t) }), [...path, 'tools']);
  return t;
}

/** A ShareGPT "function_call" turn (LLaMA-Factory): its value is the call as JSON, {"name",
 *  "arguments"} or a list of them; it becomes an assistant message with those tool_calls. */
function sharegptCall(value: unknown, k: number, path: PathKey[]): ChatMessage {
  let v: unknown = value;
  if (typeof value === 'string') {
    try {
      v = JSON.parse(value);
    } catch {
      v = undefined;
    }
  }
  const calls = Array.isArray(v) ? v : [v];
  if (calls.length === 0 || !calls.every((c) => isObject(c) && typeof c.name === 'string')) {
    throw new SampleProblem(msg('parse.notACall', { k }), path);
  }
  const toolCalls = calls.map((c) => ({ type: 'function', function: c }));
  return { role: 'assistant', content: '', noContent: 'absent', fields: { tool_calls: toolCalls } };
}

function sharegptMessages(list: unknown[], path: PathKey[]): Conversation {
  if (list.length === 0) throw new SampleProblem(msg('parse.noMessages'), path);
  return list.map((m, k): ChatMessage => {
    const mp = [...path, k];
    if (!isObject(m)) throw new SampleProblem(msg('parse.shareGptMessageKind', { k, kind: kindOf(m) }), mp);
    if (typeof m.from !== 'string') throw new SampleProblem(msg('parse.noFrom', { k }), mp);
    if (m.from.toLowerCase() === 'function_call') return sharegptCall(m.value, k, [...mp, 'value']);
    const role = SHAREGPT_ROLES.get(m.from.toLowerCase());
    if (!role) {
      throw new SampleProblem(msg('parse.unknownFrom', { k, from: m.from }), [...mp, 'from']);
    }
    if (typeof m.value !== 'string') {
      throw new SampleProblem(msg('parse.valueKind', { k, role, kind: kindOf(m.value) }), [...mp, 'value']);
    }
    return { role, content: checkContent(m.value, k, role, [...mp, 'value']) };
  });
}

type SampleFormat = Exclude<InputFormat, 'jsonl' | 'role-prefixed-text'>;
interface OneSample {
  format: SampleFormat;
  conversation: Conversation;
  tools: ToolList | null;
}

/** One JSON value that must be exactly one sample. */
function sampleFromJson(v: unknown, path: PathKey[]): OneSample {
  if (Array.isArray(v)) return { format: 'openai-array', conversation: openaiMessages(v, path), tools: null };
  if (isObject(v)) {
    if (has(v, 'messages')) {
      if (!Array.isArray(v.messages)) throw new SampleProblem(msg('parse.messagesKind', { kind: kindOf(v.messages) }), [...path, 'messages']);
      return { format: 'messages-object', conversation: openaiMessages(v.messages, [...path, 'messages']), tools: toolsOf(v, path) };
    }
    if (has(v, 'conversations')) {
      if (!Array.isArray(v.conversations)) {
        throw new SampleProblem(msg('parse.conversationsKind', { kind: kindOf(v.conversations) }), [...path, 'conversations']);
      }
      return { format: 'sharegpt', conversation: sharegptMessages(v.conversations, [...path, 'conversations']), tools: toolsOf(v, path) };
    }
    if (has(v, 'role') && has(v, 'content')) {
      throw new SampleProblem(msg('parse.singleMessage'), path);
    }
    const keys = Object.keys(v).slice(0, 6).map((k) => `"${k}"`).join(', ');
    throw new SampleProblem(keys ? msg('parse.noMessagesField', { keys }) : msg('parse.noMessagesFieldEmpty'), path);
  }
  throw new SampleProblem(msg('parse.notConversation', { kind: kindOf(v) }), path);
}

/** An object that holds one sample (as opposed to one message). */
function isSampleObject(v: Record<string, unknown>): boolean {
  return has(v, 'messages') || has(v, 'conversations');
}

/** Per-sample tools, or null when no sample has any (ParseResult.tools). */
function toolColumn(parsed: OneSample[]): (ToolList | null)[] | null {
  return parsed.some((p) => p.tools !== null) ? parsed.map((p) => p.tools) : null;
}

/** A whole JSON document: one sample, or an array of samples. */
function samplesFromJson(v: unknown): { format: SampleFormat; samples: Conversation[]; tools: (ToolList | null)[] | null; dataset: boolean } {
  if (Array.isArray(v) && v.length > 0 && (Array.isArray(v[0]) || (isObject(v[0]) && !has(v[0], 'role') && isSampleObject(v[0])))) {
    const parsed = v.map((s, k) => sampleFromJson(s, [k]));
    return { format: parsed[0].format, samples: parsed.map((p) => p.conversation), tools: toolColumn(parsed), dataset: true };
  }
  if (Array.isArray(v) && v.length === 0) throw new SampleProblem(msg('parse.emptyArray'), []);
  const one = sampleFromJson(v, []);
  return { format: one.format, samples: [one.conversation], tools: toolColumn([one]), dataset: false };
}

/** Offset of a JSON.parse failure: from the engine's message when it has one, else our scan. */
export function jsonErrorAt(text: string, err: unknown): { offset: number; message: string; msg: Message } {
  const raw = err instanceof Error ? err.message : String(err);
  const scanned = findJsonError(text);
  let offset: number | null = null;
  const pos = /at position (\d+)/.exec(raw);
  const lc = /line (\d+) column (\d+)/.exec(raw);
  if (pos) offset = Number(pos[1]);
  else if (lc) offset = offsetOf(text, Number(lc[1]), Number(lc[2]));
  if (scanned && (offset === null || offset === scanned.offset)) return scanned;
  const cleaned = raw
    .replace(/^JSON\.parse: /, '')
    .replace(/\s*(in JSON )?at position \d+.*$/, '')
    .replace(/\s*at line \d+ column \d+ of the JSON data$/, '');
  // The engine's own words (another position than our scanner's): English, uncoded.
  return { offset: offset ?? scanned?.offset ?? text.length, message: cleaned, msg: uncoded(cleaned) };
}

/** Where a piece of JSON sits in the paste: the whole text (lineBase 0), or one JSONL line. */
interface Where {
  /** 0-based line of the piece's first line in the pasted text. */
  lineBase: number;
  /** The piece is one JSONL line: messages start "Line N" and name only the column. */
  jsonl: boolean;
}

/** Where `code` happened: `code.jsonl` names the line first, `code.whole` ends with line and column. */
function placed(code: string, line: number, column: number, where: Where, params: Record<string, string | number | Message> = {}): InputError {
  return { ...worded(msg(`${code}.${where.jsonl ? 'jsonl' : 'whole'}`, { ...params, line, column })), line, column };
}

function jsonSyntaxError(text: string, err: unknown, where: Where): InputError {
  const { offset, msg: reason } = jsonErrorAt(text, err);
  const { line, column } = lineColumn(text, offset);
  return placed('parse.invalidJson', line + where.lineBase, column, where, { reason });
}

function depthError(text: string, offset: number, where: Where): InputError {
  const { line, column } = lineColumn(text, offset);
  return placed('parse.tooDeep', line + where.lineBase, column, where, { max: MAX_JSON_DEPTH, level: MAX_JSON_DEPTH + 1 });
}

function sampleError(text: string, p: SampleProblem, where: Where): InputError {
  const at = locateJsonPath(text, p.path);
  const detail = p.msg;
  if (at !== null) {
    const { line, column } = lineColumn(text, at);
    const l = line + where.lineBase;
    return { ...worded(where.jsonl ? msg('parse.sampleAt.jsonl', { line: where.lineBase + 1, column, detail }) : msg('parse.sampleAt.whole', { line: l, column, detail })), line: l, column };
  }
  if (where.jsonl) return { ...worded(msg('parse.sampleLine', { line: where.lineBase + 1, detail })), line: where.lineBase + 1 };
  return worded(detail);
}

/** One JSONL line → its sample, or what is wrong with it. */
function jsonlLine(line: string, li: number): OneSample | InputError {
  const where: Where = { lineBase: li, jsonl: true };
  const deep = findTooDeep(line);
  if (deep !== null) return depthError(line, deep, where);
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return jsonSyntaxError(line, e, where);
  }
  try {
    return sampleFromJson(v, []);
  } catch (e) {
    if (e instanceof SampleProblem) return sampleError(line, e, where);
    throw e;
  }
}

function parseJsonl(text: string): ParseResult {
  const lines = text.split('\n');
  const samples: Conversation[] = [];
  const good: OneSample[] = [];
  const sampleLines: number[] = [];
  const formats = new Set<SampleFormat>();
  const errors: InputError[] = [];
  let broken = 0;
  let nonEmpty = 0;
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].endsWith('\r') ? lines[li].slice(0, -1) : lines[li];
    if (line.trim() === '') continue;
    nonEmpty++;
    const one = jsonlLine(line, li);
    if ('message' in one) {
      if (broken++ < MAX_LINE_ERRORS) errors.push(one);
      continue;
    }
    formats.add(one.format);
    samples.push(one.conversation);
    good.push(one);
    sampleLines.push(li + 1);
  }
  const lineErrors: LineErrors | null = broken > 0 ? { errors, total: broken, lines: nonEmpty } : null;
  if (samples.length === 0) {
    const first = errors[0];
    return {
      ok: false,
      error: { ...first, ...worded(msg('parse.noUsableLine', { count: nonEmpty, first: first.msg ?? uncoded(first.message) })) },
      lineErrors: lineErrors as LineErrors,
    };
  }
  const kinds = [...formats].map((f) => msg(`format.${f}`));
  const kindList = kinds.reduce((a, b) => msg('format.and', { a, b }));
  const label = broken > 0 ? msg('format.jsonlBroken', { n: samples.length, kinds: kindList, count: broken }) : msg('format.jsonl', { n: samples.length, kinds: kindList });
  return {
    ok: true,
    format: 'jsonl',
    ...labelled(label),
    samples,
    lineErrors,
    sampleLines: sampleLines.every((l, k) => l === k + 1) ? null : sampleLines,
    tools: toolColumn(good),
  };
}

/** Several lines, each a complete JSON sample or at least some of them: JSONL. Asked only after the
 *  whole text failed to parse, so pretty-printed JSON (first line "[" or "{") is never JSONL. */
function looksLikeJsonl(text: string): boolean {
  const nonEmpty = text.split('\n').filter((l) => l.trim() !== '');
  if (nonEmpty.length < 2) return false;
  const first = nonEmpty[0].trim();
  if (first === '[' || first === '{') return false;
  const sampleShaped = (line: string): boolean => {
    if (findTooDeep(line) !== null) return false;
    try {
      const v: unknown = JSON.parse(line);
      return Array.isArray(v) || (isObject(v) && isSampleObject(v));
    } catch {
      return false;
    }
  };
  return sampleShaped(nonEmpty[0]) || nonEmpty.slice(1).some(sampleShaped);
}

const WHOLE: Where = { lineBase: 0, jsonl: false };

function parseJson(text: string): ParseResult {
  const deep = findTooDeep(text);
  let v: unknown;
  let syntax: unknown = null;
  if (deep === null) {
    try {
      v = JSON.parse(text);
    } catch (e) {
      syntax = e;
    }
  }
  if (deep !== null || syntax !== null) {
    if (looksLikeJsonl(text)) return parseJsonl(text);
    return { ok: false, error: deep !== null ? depthError(text, deep, WHOLE) : jsonSyntaxError(text, syntax, WHOLE) };
  }
  try {
    const { format, samples, tools, dataset } = samplesFromJson(v);
    const label = dataset ? msg('format.array', { n: samples.length, kind: msg(`format.${format}`) }) : msg(`format.${format}`);
    return { ok: true, format, ...labelled(label), samples, lineErrors: null, sampleLines: null, tools };
  } catch (e) {
    if (e instanceof SampleProblem) return { ok: false, error: sampleError(text, e, WHOLE) };
    throw e;
  }
}

/** A bare JSON value that is not an array or object ("42", "\"hi\"", null): not a conversation. */
function parseScalar(text: string): ParseResult | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const at = text.length - text.trimStart().length;
  const { line, column } = lineColumn(text, at);
  return {
    ok: false,
    error: { ...worded(msg('parse.scalar', { kind: kindOf(v), line, column, formats: msg('parse.formats') })), line, column },
  };
}

const ROLE_PREFIX = /^(system|user|assistant)[ \t]*:[ \t]*/i;

/** Lines starting with a role prefix open a message; other lines continue it. Message content is
 *  trimmed (plain text cannot carry leading/trailing whitespace unambiguously). */
function parseRolePrefixed(text: string): ParseResult {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const conv: Conversation = [];
  const startLines: number[] = [];
  let buf: string[] = [];
  const flush = (): InputError | null => {
    if (conv.length === 0) return null;
    const k = conv.length - 1;
    const content = buf.join('\n').trim();
    if (content === '') {
      return {
        ...worded(msg('parse.text.empty', { k, role: conv[k].role, line: startLines[k] })),
        line: startLines[k],
        column: 1,
      };
    }
    const bad = LONE_SURROGATE.exec(content);
    if (bad) {
      return {
        ...worded(msg('parse.text.surrogate', { k, role: conv[k].role, line: startLines[k], at: bad.index })),
        line: startLines[k],
        column: 1,
      };
    }
    conv[k].content = content;
    return null;
  };
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li];
    const m = ROLE_PREFIX.exec(line);
    if (m) {
      const err = flush();
      if (err) return { ok: false, error: err };
      conv.push({ role: m[1].toLowerCase() as MessageRole, content: '' });
      startLines.push(li + 1);
      buf = [line.slice(m[0].length)];
    } else if (conv.length === 0) {
      if (line.trim() === '') continue;
      const col = line.length - line.trimStart().length + 1;
      return {
        ok: false,
        error: {
          ...worded(msg('parse.text.noRole', { line: li + 1, formats: msg('parse.formats') })),
          line: li + 1,
          column: col,
        },
      };
    } else buf.push(line);
  }
  const err = flush();
  if (err) return { ok: false, error: err };
  return { ok: true, format: 'role-prefixed-text', ...labelled(msg('format.role-prefixed-text')), samples: [conv], lineErrors: null, sampleLines: null, tools: null };
}

function parseBody(text: string): ParseResult {
  const first = /\S/.exec(text);
  if (!first) return { ok: false, error: worded(msg('parse.nothing', { formats: msg('parse.formats') })) };
  const c = first[0];
  if (c === '[' || c === '{') return parseJson(text);
  if (/[-0-9"tfn]/.test(c)) {
    const scalar = parseScalar(text);
    if (scalar) return scalar;
  }
  return parseRolePrefixed(text);
}

/** Columns on line 1 counted without the BOM, moved back to the pasted text (which has it). */
function withBomColumn(e: InputError): InputError {
  return e.line === 1 && e.column !== undefined ? { ...e, column: e.column + 1 } : e;
}

export function parseChatInput(text: string): ParseResult {
  if (!text.startsWith(BOM)) return parseBody(text);
  // JSON: the mark becomes a space, so every offset, line and column (in messages too) stays the
  // paste box's. Plain text needs its role prefix at the start of the line: the mark is cut, and
  // the column of an error on line 1 moved back by one (its messages name lines only).
  const json = /^\s*[-0-9"tfn[{]/.test(text.slice(BOM.length));
  const r = parseBody(json ? ` ${text.slice(BOM.length)}` : text.slice(BOM.length));
  const fix = json ? (e: InputError) => e : withBomColumn;
  const lineErrors = r.lineErrors ? { ...r.lineErrors, errors: r.lineErrors.errors.map(fix) } : null;
  if (!r.ok) return { ...r, error: fix(r.error), ...(lineErrors ? { lineErrors } : {}) };
  return { ...r, ...labelled(msg('format.bomRemoved', { label: r.formatMsg })), lineErrors };
}
