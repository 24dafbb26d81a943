// Conversation → rendered chat → tokens with roles (see spans.ts for the character attribution and
// offsets.ts for the character → token mapping).
// Role of a character: content of message k → conv[k].role; the end-of-turn token of an assistant
// turn (the first special token after it, endOfTurn.ts) → that turn (role 'assistant',
// isEndOfTurn); every other
// character → 'template'. A token's role: 'assistant' if it holds any assistant character (so
// straddling tokens that carry part of the answer are trainable), else its first non-template role,
// else 'template'. Prefix renderings are used only to DETECT templates that rewrite earlier turns
// (reported in notes); attribution itself always uses renderings of the full conversation.
// Special-token text typed in a message's content ("<|im_end|>" in a user message) is read as the
// special token by default, as transformers does; such tokens are flagged (typedSpecial) and
// noted. With splitSpecialTokens the content runs that hold such text are encoded with
// encodePlain (transformers' split_special_tokens), the markup around them as usual.
// Fields beyond content (reasoning, tool calls, the sample's tools) are rendered and attributed as
// fields.ts says: an assistant message's characters are then 'assistant', 'reasoning' or 'tool_call'.
import type { ChatTokenizer, Conversation, TokenInfo, TokenRole, TokenizeOptions, TokenizedSample } from './types';
import { attributeChars, commonPrefix } from './spans';
import { tokenSpans } from './offsets';
import { findTurnClosers } from './endOfTurn';
import { englishOf, msg, type Message } from '../spec/message';
import { ASSISTANT_SIDE, attributeFields, charRole, followsToolCall, isTypedPart, resolveForTemplate, warningMessages, withTools } from './fields';

/** Budget of the rewrite detector: prefix renderings, and their total characters (a long chat
 *  checks its early turns only, which is where a rewriting template already shows). */
const MAX_PREFIX_CHECKS = 64;
const MAX_PREFIX_CHARS = 2_000_000;

function quote(s: string, max = 60): string {
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(t);
}

/** Where a message's content holds the text of a special token. */
interface TypedSpecial {
  start: number;
  end: number;
  message: number;
  text: string;
}

/** The texts of every added token (special or not: Qwen3's <tool_call> too), per tokenizer. */
const addedCache = new WeakMap<ChatTokenizer['addedTokenContent'], string[]>();
function addedTexts(tok: ChatTokenizer): string[] {
  let out = addedCache.get(tok.addedTokenContent);
  if (!out) {
    out = [];
    for (let id = 0; id < tok.vocabSize; id++) {
      const c = tok.addedTokenContent(id);
      if (c !== null && c !== '') out.push(c);
    }
    addedCache.set(tok.addedTokenContent, out);
  }
  return out;
}

/** Most notes about typed special-token text per sample (the chips flag every one). */
const MAX_TYPED_NOTES = 8;

function messageLabel(conv: Conversation, k: number, turnOf: Int32Array): Message {
  return conv[k].role === 'assistant' ? msg('sample.assistantTurn', { turn: turnOf[k], k }) : msg('sample.messageOf', { k, role: conv[k].role });
}

/** Occurrences of special-token text lying wholly inside one message's content. */
function typedSpecials(tok: ChatTokenizer, rendered: string, isContent: (i: number) => boolean, charMessage: Int32Array): TypedSpecial[] {
  const found: TypedSpecial[] = [];
  for (const text of tok.specialTexts) {
    for (let at = rendered.indexOf(text); at >= 0; at = rendered.indexOf(text, at + 1)) {
      let inside = true;
      for (let i = at; i < at + text.length && inside; i++) inside = isContent(i) && charMessage[i] === charMessage[at];
      if (inside) found.push({ start: at, end: at + text.length, message: charMessage[at], text });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

/** Ids of `rendered`, with each content run that holds typed special text encoded as plain text. */
function encodeSplit(tok: ChatTokenizer, rendered: string, typed: TypedSpecial[], isContent: (i: number) => boolean, charMessage: Int32Array): number[] {
  const runs: { start: number; end: number }[] = [];
  for (const t of typed) {
    let { start, end } = t;
    while (start > 0 && isContent(start - 1) && charMessage[start - 1] === t.message) start--;
    while (end < rendered.length && isContent(end) && charMessage[end] === t.message) end++;
    const last = runs[runs.length - 1];
    if (last && start < last.end) last.end = Math.max(last.end, end);
    else runs.push({ start, end });
  }
  const ids: number[] = [];
  let pos = 0;
  for (const r of runs) {
    if (r.start > pos) ids.push(...tok.encode(rendered.slice(pos, r.start)));
    ids.push(...tok.encodePlain(rendered.slice(r.start, r.end)));
    pos = r.end;
  }
  if (pos < rendered.length) ids.push(...tok.encode(rendered.slice(pos)));
  return ids;
}

/** Ids of `render(conv)` (e.g. a prompt with the generation prompt), with typed special-token text
 *  encoded as tokenizeConversation encodes it. */
export function encodeChat(tok: ChatTokenizer, conv: Conversation, render: (c: Conversation) => string, options: TokenizeOptions = {}): { rendered: string; ids: number[] } {
  const rendered = render(conv);
  if (options.splitSpecialTokens !== true) return { rendered, ids: tok.encode(rendered) };
  const { charMessage } = attributeChars(render, conv, rendered);
  const isContent = (i: number) => charMessage[i] >= 0;
  const typed = typedSpecials(tok, rendered, isContent, charMessage);
  return { rendered, ids: typed.length > 0 ? encodeSplit(tok, rendered, typed, isContent, charMessage) : tok.encode(rendered) };
}

export function tokenizeConversation(base: ChatTokenizer, input: Conversation, options: TokenizeOptions = {}): TokenizedSample {
  if (input.length === 0) throw new Error('The conversation has no messages; there is nothing to tokenize.');
  const tok = withTools(base, options.tools);
  const render = (c: Conversation): string => tok.render(c);
  const { conv, notes: roleNotes } = resolveForTemplate(render, input, tok.label);
  const rendered = render(conv);
  const { charMessage, windows, method } = attributeChars(render, conv, rendered);
  const { charPart, notes: fieldNotes } = attributeFields(render, conv, rendered, charMessage, windows, addedTexts(tok));
  const how = method === 'skeleton' ? msg('sample.howSkeleton') : msg('sample.howProbe');
  const notes: Message[] = [msg('sample.roles', { label: tok.label, how }), ...warningMessages(tok), ...roleNotes];

  // Assistant turn numbers, and each turn's end-of-turn token right after its content.
  const turnOf = new Int32Array(conv.length).fill(-1);
  let turns = 0;
  conv.forEach((m, k) => {
    if (m.role === 'assistant') turnOf[k] = turns++;
  });
  // Each turn's closer is found in this rendering (endOfTurn.ts), after everything the turn wrote.
  const eotOwner = new Int32Array(rendered.length).fill(-1);
  const turnClosers = findTurnClosers(rendered, conv, windows, tok.specialTexts, tok.bosText, charMessage);
  conv.forEach((m, k) => {
    if (m.role !== 'assistant') return;
    const closer = turnClosers[k];
    if (closer === null) {
      notes.push(msg('sample.noEndOfTurn', { turn: turnOf[k], k }));
      return;
    }
    for (let i = closer.start; i < closer.end; i++) {
      eotOwner[i] = k;
      charMessage[i] = k;
    }
  });

  const charRoles: TokenRole[] = new Array(rendered.length);
  for (let i = 0; i < rendered.length; i++) charRoles[i] = charRole(conv, charMessage[i], charPart[i]);

  // Typed text: content and reasoning (the markup a tool call or reasoning brings is not typed).
  const isContent = (i: number) => charMessage[i] >= 0 && eotOwner[i] < 0 && isTypedPart(charPart[i]);
  const typed = typedSpecials(tok, rendered, isContent, charMessage);
  const split = options.splitSpecialTokens === true && typed.length > 0;
  const ids = split ? encodeSplit(tok, rendered, typed, isContent, charMessage) : tok.encode(rendered);
  const spans = tokenSpans(tok, rendered, ids);
  const tokens: TokenInfo[] = ids.map((id, index) => {
    const sp = spans[index];
    const roles: TokenRole[] = [];
    const firstMsgOfRole = new Map<TokenRole, number>();
    for (let i = Math.min(sp.coverStart, sp.start); i < Math.max(sp.coverEnd, sp.end); i++) {
      const r = charRoles[i];
      if (!roles.includes(r)) roles.push(r);
      if (charMessage[i] >= 0 && !firstMsgOfRole.has(r)) firstMsgOfRole.set(r, charMessage[i]);
    }
    const role: TokenRole = ASSISTANT_SIDE.find((r) => roles.includes(r)) ?? roles.find((r) => r !== 'template') ?? 'template';
    const messageIndex = role === 'template' ? null : (firstMsgOfRole.get(role) as number);
    return {
      index,
      id,
      text: rendered.slice(sp.start, sp.end),
      start: sp.start,
      end: sp.end,
      role,
      messageIndex,
      turnIndex: messageIndex !== null && turnOf[messageIndex] >= 0 ? turnOf[messageIndex] : null,
      isEndOfTurn: tok.isSpecial(id) && sp.end > sp.start && eotOwner[sp.start] >= 0,
      closesToolCall: sp.end > sp.start && eotOwner[sp.start] >= 0 && followsToolCall(charMessage, charPart, sp.start, eotOwner[sp.start]),
      typedSpecial: tok.isSpecial(id) && sp.end > sp.start && isContent(sp.start),
      straddles: roles.length > 1,
      roles,
    };
  });

  const seen = new Set<string>();
  for (const t of typed) {
    const key = `${t.message} ${t.text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (seen.size > MAX_TYPED_NOTES) {
      notes.push(split ? msg('sample.moreSplit') : msg('sample.moreTyped'));
      break;
    }
    const label = messageLabel(conv, t.message, turnOf);
    notes.push(split ? msg('sample.typedSplit', { label, text: JSON.stringify(t.text) }) : msg('sample.typedRead', { label, text: JSON.stringify(t.text), token: t.text }));
  }

  notes.push(...fieldNotes, ...describeTemplate(tok, conv, rendered, charMessage, windows, turnOf));
  return { rendered, tokens, conversation: conv, attribution: 'content-diff', notes: notes.map(englishOf), noteMsgs: notes, charRoles, charMessage };
}

/** Human-readable findings about what the template did to this conversation. */
function describeTemplate(
  tok: ChatTokenizer,
  conv: Conversation,
  rendered: string,
  charMessage: Int32Array,
  windows: ReturnType<typeof attributeChars>['windows'],
  turnOf: Int32Array,
): Message[] {
  const notes: Message[] = [];

  // 1. Does rendering a prefix of the chat give a prefix of the full rendering? (Qwen3: no.)
  let spent = 0;
  for (let k = 0; k < Math.min(conv.length - 1, MAX_PREFIX_CHECKS) && spent < MAX_PREFIX_CHARS; k++) {
    let prefix: string;
    try {
      prefix = tok.render(conv.slice(0, k + 1));
    } catch {
      continue; // a template may refuse a prefix (tools in the first user message, none yet)
    }
    spent += prefix.length;
    const lcp = commonPrefix(prefix, rendered);
    if (lcp < windows[k].end) {
      notes.push(msg('sample.rewrites', { label: tok.label, k, at: lcp, alone: quote(prefix.slice(lcp)), full: quote(rendered.slice(lcp)) }));
      break;
    }
  }

  // 2. Per message: trimmed, dropped, or markup inserted before the content.
  let prevEnd = 0;
  conv.forEach((m, k) => {
    const w = windows[k];
    const text = rendered.slice(w.start, w.end);
    const label = messageLabel(conv, k, turnOf);
    if (w.verbatim && text !== m.content) {
      notes.push(msg('sample.notCopied', { label, n: m.content.length - text.length }));
    } else if (!w.verbatim && w.matched < m.content.length) {
      notes.push(msg('sample.dropped', { label, n: m.content.length - w.matched, total: m.content.length }));
    }
    if (!w.verbatim && w.end - w.start > w.matched) {
      notes.push(msg('sample.inserted', { label, n: w.end - w.start - w.matched }));
    }
    // A reasoning field's block is explained by its chips ('reasoning'), not by these notes.
    if (m.role === 'assistant' && !charMessage.subarray(prevEnd, w.start).includes(k)) {
      const gap = rendered.slice(prevEnd, w.start);
      const open = gap.lastIndexOf('<think>');
      if (open >= 0 && !m.content.includes('<think>') && gap.includes('</think>', open)) {
        notes.push(msg('sample.emptyReasoning', { label, block: quote(gap.slice(open)) }));
      } else if (open >= 0) {
        notes.push(msg('sample.writesThink', { label, block: quote(gap.slice(open)) }));
      }
    }
    for (let i = w.end; i < rendered.length && charMessage[i] === k; i++) prevEnd = i + 1;
    prevEnd = Math.max(prevEnd, w.end);
  });

  // 3. Nothing before the first assistant turn: it is trained with no prompt to answer.
  if (conv[0].role === 'assistant') {
    notes.push(msg('sample.startsWithAssistant'));
  }

  // 4. Text after the last message (Llama-3 appends an assistant header even without a generation prompt).
  let lastOwned = rendered.length;
  while (lastOwned > 0 && charMessage[lastOwned - 1] < 0) lastOwned--;
  const tail = rendered.slice(lastOwned);
  if (tail.trim() !== '') {
    const genPrompt = conv[conv.length - 1].role === 'assistant' && tok.render(conv, true) === rendered;
    notes.push(genPrompt ? msg('sample.tailAlways', { tail: quote(tail) }) : msg('sample.tail', { tail: quote(tail) }));
  }
  return notes;
}
