// Tokenizer + chat template loading through @huggingface/transformers, from the two JSON files
// a Hugging Face repo ships (tokenizer.json, tokenizer_config.json). fetchJson is injected so the
// browser fetches URLs and Node tests read files.
//
// Besides encode/render, attribution needs each token's exact bytes (to map tokens back onto
// characters, see offsets.ts). transformers.js gives no offsets, so bytes come from the vocabulary:
// byte-level BPE token strings are the GPT-2 byte→unicode mapping of raw bytes; SentencePiece
// byte-fallback tokens are <0xNN>; other SentencePiece pieces are their UTF-8, with "▁" for a
// space; added tokens are their literal content. What the normalizer and pre-tokenizer do to the
// text (space → "▁", a "▁" inserted at the start of a run) is modelled by buildPipeline.
// A model folder's chat template may sit in chat_template.jinja / chat_template.json; the worker
// picks it (src/model/chatTemplate.ts) and hands it in as the config's chat_template.
//
// transformers.js v4 has no `split_special_tokens` option: its encode always matches added tokens.
// encodePlain() is that option: a second tokenizer built from the same files without the special
// added tokens (built on first use), so text such as "<|im_end|>" goes through the normalizer,
// pre-tokenizer and model like any other text. Non-special added tokens (Qwen3's <think>) are still
// matched, as in transformers.
import { GPT2Tokenizer, LlamaTokenizer, PreTrainedTokenizer, Qwen2Tokenizer } from '@huggingface/transformers';
import type { ChatTokenizer, Conversation, ToolList, TokenizerSource } from './types';
import { templateMessages, toolsArgument, warningMessages } from './fields';
import { attributeChars } from './spans';
import { findTurnClosers } from './endOfTurn';
import { CodedError, englishOf, msg, type Message } from '../spec/message';

type Json = Record<string, unknown>;

/** tokenizer_config.json's tokenizer_class (a string from the model's files) → class. */
const CLASSES: ReadonlyMap<string, typeof PreTrainedTokenizer> = new Map([
  ['PreTrainedTokenizer', PreTrainedTokenizer],
  ['Qwen2Tokenizer', Qwen2Tokenizer],
  ['LlamaTokenizer', LlamaTokenizer],
  ['GPT2Tokenizer', GPT2Tokenizer],
]);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** GPT-2's bytes_to_unicode, inverted: code point of a token-string char → byte. */
function byteDecoder(): Map<number, number> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const m = new Map<number, number>();
  bs.forEach((b, i) => m.set(cs[i], b));
  return m;
}

function hasType(node: unknown, type: string): boolean {
  if (!isObject(node)) return false;
  if (node.type === type) return true;
  const kids = node.decoders ?? node.normalizers ?? node.pretokenizers;
  return Array.isArray(kids) && kids.some((k) => hasType(k, type));
}

/** What the normalizer and pre-tokenizer do to the text between added tokens, as attribution needs
 *  it (offsets.ts): a per-character rewrite (Unicode forms, Replace, Lowercase, Metaspace's
 *  space → "▁"), and the text they may insert at the start of a run (Prepend, Metaspace's
 *  prepend_scheme, byte-level add_prefix_space). Steps that drop or move text are reported. */
interface TextPipeline {
  normalize: (s: string) => string;
  insertedPrefix: string;
  unsupported: string[];
  /** e.g. "BPE model with byte fallback, normalizer Sequence[Prepend, Replace], no pre-tokenizer". */
  description: string;
}

function stepNames(node: unknown, kids: 'normalizers' | 'pretokenizers'): string {
  if (!isObject(node)) return 'none';
  const list = node[kids];
  return node.type === 'Sequence' && Array.isArray(list) ? `Sequence[${list.map((k) => stepNames(k, kids)).join(', ')}]` : String(node.type);
}

/** A Replace step's pattern as a global RegExp (tokenizer.json: {String} or {Regex}). */
function replacePattern(pattern: unknown): RegExp | null {
  if (!isObject(pattern)) return null;
  if (typeof pattern.String === 'string') return new RegExp(pattern.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
  if (typeof pattern.Regex === 'string') {
    try {
      return new RegExp(pattern.Regex, 'gu');
    } catch {
      return null;
    }
  }
  return null;
}

function buildPipeline(tj: Json): TextPipeline {
  const unsupported: string[] = [];
  const steps: ((s: string) => string)[] = [];
  // The inserted text, and how many steps come before it (the later ones rewrite it too).
  let prefix: { text: string; at: number } | null = null;
  const insert = (text: string) => {
    prefix ??= { text, at: steps.length };
  };
  const normalizer = (n: unknown): void => {
    if (!isObject(n)) return;
    const t = String(n.type);
    if (t === 'Sequence' && Array.isArray(n.normalizers)) n.normalizers.forEach(normalizer);
    else if (t === 'NFC' || t === 'NFD' || t === 'NFKC' || t === 'NFKD') steps.push((s) => s.normalize(t));
    else if (t === 'Lowercase') steps.push((s) => s.toLowerCase());
    else if (t === 'Prepend' && typeof n.prepend === 'string') insert(n.prepend);
    else if (t === 'Replace' && replacePattern(n.pattern)) {
      const re = replacePattern(n.pattern) as RegExp;
      const by = typeof n.content === 'string' ? n.content : '';
      steps.push((s) => s.replaceAll(re, by));
    } else unsupported.push(`normalizer ${t}`);
  };
  const preTokenizer = (n: unknown): void => {
    if (!isObject(n)) return;
    const t = String(n.type);
    if (t === 'Sequence' && Array.isArray(n.pretokenizers)) n.pretokenizers.forEach(preTokenizer);
    else if (t === 'Metaspace') {
      const by = typeof n.replacement === 'string' ? n.replacement : '\u2581';
      steps.push((s) => s.replaceAll(' ', by));
      const scheme = n.prepend_scheme ?? (n.add_prefix_space === false ? 'never' : 'always');
      if (scheme !== 'never') insert(by);
    } else if (t === 'ByteLevel') {
      if (n.add_prefix_space === true) insert(' ');
    } else if (t === 'Replace' && replacePattern(n.pattern)) {
      const re = replacePattern(n.pattern) as RegExp;
      const by = typeof n.content === 'string' ? n.content : '';
      steps.push((s) => s.replaceAll(re, by));
    } else if (!((t === 'Split' && String(n.behavior).toLowerCase() !== 'removed') || t === 'Digits' || t === 'Punctuation' || t === 'FixedLength')) {
      // These only cut the text into words; anything else (Whitespace, a Split that removes its
      // matches, BertPreTokenizer) drops or changes characters.
      unsupported.push(`pre-tokenizer ${t}`);
    }
  };
  normalizer(tj.normalizer);
  preTokenizer(tj.pre_tokenizer);
  const model = isObject(tj.model) ? tj.model : {};
  const modelType = typeof model.type === 'string' ? model.type : Array.isArray(model.vocab) ? 'Unigram' : 'unknown';
  const description =
    `${modelType} model${model.byte_fallback === true ? ' with byte fallback' : ''}, ` +
    `normalizer ${stepNames(tj.normalizer, 'normalizers')}, pre-tokenizer ${stepNames(tj.pre_tokenizer, 'pretokenizers')}`;
  const inserted = prefix as { text: string; at: number } | null;
  const insertedPrefix = inserted === null ? '' : steps.slice(inserted.at).reduce((acc, f) => f(acc), inserted.text);
  return { normalize: (s) => steps.reduce((acc, f) => f(acc), s), insertedPrefix, unsupported, description };
}

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}

function pickTemplate(cfg: Json, where: string): string {
  const t = cfg.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.find((x) => isObject(x) && x.name === 'default') ?? t[0];
    if (isObject(named) && typeof named.template === 'string') return named.template;
  }
  throw new CodedError(msg('tokenizer.noTemplate', { where }));
}

/** Probe conversations for the end-of-turn tokens: two assistant turns, as templates may close
 *  the final turn with a different token than earlier ones (gpt-oss: <|end|>, then <|return|>);
 *  one turn for templates that refuse the longer chat. */
const PROBES: Conversation[] = [
  [
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi there' },
    { role: 'user', content: 'Thanks' },
    { role: 'assistant', content: 'Bye' },
  ],
  [
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi there' },
  ],
];

/** The special tokens that close the probe chats' assistant turns (endOfTurn.ts), as ids. */
function probeEndOfTurn(render: (c: Conversation) => string, specialTexts: string[], bosText: string | null, idOf: (s: string) => number | null): number[] {
  for (const probe of PROBES) {
    let rendered: string;
    try {
      rendered = render(probe);
    } catch {
      continue;
    }
    const { windows } = attributeChars((c) => render(c), probe, rendered);
    const closers = findTurnClosers(rendered, probe, windows, specialTexts, bosText);
    return [...new Set(closers.flatMap((c) => (c === null ? [] : [idOf(c.text) as number])))];
  }
  return [];
}

function templateWarnings(label: string, endOfTurnTokenIds: number[], padTokenId: number | null, tokenString: (id: number) => string): Message[] {
  const out: Message[] = [];
  if (endOfTurnTokenIds.length === 0) out.push(msg('sample.noEndOfTurnToken', { label }));
  if (padTokenId !== null && endOfTurnTokenIds.includes(padTokenId)) {
    out.push(msg('sample.padIsEndOfTurn', { label, token: tokenString(padTokenId) }));
  }
  return out;
}

/**
 * The tokenizer with another chat template (the user's own): renders with it, and its end-of-turn
 * tokens and template warnings found again from it. The vocabulary is shared, not parsed again.
 */
export function withTemplate(tok: ChatTokenizer, template: string, label = `${tok.label}, your template`): ChatTokenizer {
  const render = (conv: Conversation, addGenerationPrompt = false, tools: ToolList | null = null) => tok.renderWith(template, conv, addGenerationPrompt, tools);
  const idOf = (s: string): number | null => {
    const ids = tok.encode(s);
    return ids.length === 1 ? ids[0] : null;
  };
  const endOfTurnTokenIds = probeEndOfTurn((c) => render(c), tok.specialTexts, tok.bosText, idOf);
  const own = new Set(templateWarnings(tok.label, tok.endOfTurnTokenIds, tok.padTokenId, tok.tokenString).map(englishOf));
  const warningMsgs = [...warningMessages(tok).filter((m) => !own.has(englishOf(m))), ...templateWarnings(label, endOfTurnTokenIds, tok.padTokenId, tok.tokenString)];
  return { ...tok, label, render, chatTemplate: template, endOfTurnTokenIds, warnings: warningMsgs.map(englishOf), warningMsgs };
}

export async function loadTokenizer(src: TokenizerSource, fetchJson: (url: string) => Promise<unknown>): Promise<ChatTokenizer> {
  const [tj, cj] = await Promise.all([fetchJson(src.tokenizerUrl), fetchJson(src.configUrl)]);
  if (!isObject(tj) || !isObject(tj.model)) {
    throw new CodedError(msg('tokenizer.notTokenizerJson', { url: src.tokenizerUrl }));
  }
  if (!isObject(cj)) throw new CodedError(msg('tokenizer.notConfig', { url: src.configUrl }));
  const template = pickTemplate(cj, src.configUrl);
  const className = typeof cj.tokenizer_class === 'string' ? cj.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
  const Cls = CLASSES.get(className) ?? PreTrainedTokenizer;
  const hf = new Cls(tj, { ...cj, chat_template: template });

  // id → token string: model vocab + added tokens (added tokens win).
  const vocab = tj.model.vocab;
  const idToString: string[] = [];
  if (isObject(vocab)) for (const [s, id] of Object.entries(vocab)) idToString[id as number] = s;
  else if (Array.isArray(vocab)) vocab.forEach((e, id) => (idToString[id] = Array.isArray(e) ? String(e[0]) : String(e)));
  const added = new Map<number, string>();
  const special = new Set<number>();
  const addedTokens = Array.isArray(tj.added_tokens) ? tj.added_tokens : [];
  for (const a of addedTokens) {
    if (isObject(a) && typeof a.id === 'number' && typeof a.content === 'string') {
      added.set(a.id, a.content);
      if (a.special === true) special.add(a.id);
    }
  }
  for (const [id, s] of added) idToString[id] = s;
  const idOf = (s: string | null): number | null => {
    if (s === null) return null;
    for (const [id, c] of added) if (c === s) return id;
    const v = isObject(vocab) && Object.hasOwn(vocab, s) ? vocab[s] : undefined;
    return typeof v === 'number' ? v : null;
  };
  const specialTexts = [...special].map((id) => added.get(id) as string).filter((c) => c !== '');

  const byteLevel = hasType(tj.decoder, 'ByteLevel');
  const decoder = byteLevel ? byteDecoder() : null;
  const utf8 = new TextEncoder();
  const bytesCache = new Map<number, Uint8Array>();
  const tokenBytes = (id: number): Uint8Array => {
    let b = bytesCache.get(id);
    if (b) return b;
    const s = idToString[id];
    if (s === undefined) throw new Error(`Token id ${id} is not in the ${src.label} vocabulary.`);
    const content = added.get(id);
    if (content !== undefined) b = utf8.encode(content);
    else if (decoder) {
      const out: number[] = [];
      for (const ch of s) {
        const byte = decoder.get(ch.codePointAt(0) as number);
        if (byte === undefined) throw new Error(`Token ${id} (${JSON.stringify(s)}) has a character outside the byte-level alphabet.`);
        out.push(byte);
      }
      b = Uint8Array.from(out);
    } else {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(s);
      b = m ? Uint8Array.of(parseInt(m[1], 16)) : utf8.encode(s);
    }
    bytesCache.set(id, b);
    return b;
  };

  const { normalize, insertedPrefix, unsupported, description } = buildPipeline(tj);
  const warningMsgs: Message[] = [];
  if (unsupported.length) {
    const what = { label: src.label, what: unsupported.join(', '), description };
    warningMsgs.push(unsupported.length > 1 ? msg('sample.notModelledMany', what) : msg('sample.notModelled', what));
  }

  const renderWith = (chatTemplate: string | null, conv: Conversation, addGenerationPrompt = false, tools: ToolList | null = null): string => {
    try {
      // Every message field, and the sample's tools, as the data has them (fields.ts).
      const messages = templateMessages(conv) as unknown as Parameters<typeof hf.apply_chat_template>[0];
      const own = chatTemplate === null ? {} : { chat_template: chatTemplate };
      return hf.apply_chat_template(messages, { tokenize: false, add_generation_prompt: addGenerationPrompt, ...toolsArgument(tools), ...own }) as string;
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw new CodedError(chatTemplate === null ? msg('tokenizer.rejected', { name: src.label, detail }) : msg('tokenizer.trainingRejected', { name: src.label, detail }));
    }
  };
  const render = (conv: Conversation, addGenerationPrompt = false, tools: ToolList | null = null): string => renderWith(null, conv, addGenerationPrompt, tools);
  const encode = (text: string): number[] => hf.encode(text, { add_special_tokens: false });
  let plain: PreTrainedTokenizer | null = null;
  const encodePlain = (text: string): number[] => {
    plain ??= new Cls({ ...tj, added_tokens: addedTokens.filter((a) => !(isObject(a) && a.special === true)) }, { ...cj, chat_template: template });
    return plain.encode(text, { add_special_tokens: false });
  };

  const eosTokenId = idOf(tokenContent(cj.eos_token));
  if (eosTokenId === null) throw new CodedError(msg('tokenizer.noEos', { url: src.configUrl, eos: JSON.stringify(cj.eos_token) }));
  const padTokenId = idOf(tokenContent(cj.pad_token));

  // End-of-turn: the special tokens that close the probe's assistant turns (endOfTurn.ts).
  const bosText = tokenContent(cj.bos_token);
  const endOfTurnTokenIds = probeEndOfTurn(render, specialTexts, bosText, idOf);
  warningMsgs.push(...templateWarnings(src.label, endOfTurnTokenIds, padTokenId, (id) => idToString[id]));

  return {
    id: src.id,
    label: src.label,
    eosTokenId,
    endOfTurnTokenIds,
    padTokenId,
    vocabSize: idToString.length,
    warnings: warningMsgs.map(englishOf),
    warningMsgs,
    render,
    chatTemplate: template,
    renderWith: (t, conv, addGenerationPrompt, tools) => renderWith(t, conv, addGenerationPrompt, tools),
    encode,
    encodePlain,
    specialTexts,
    bosText,
    isSpecial: (id) => special.has(id),
    tokenBytes,
    tokenString: (id) => idToString[id] ?? `<unknown ${id}>`,
    addedTokenContent: (id) => added.get(id) ?? null,
    normalize,
    insertedPrefix,
    pipeline: description,
  };
}
