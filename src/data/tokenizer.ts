// Tokenizer + chat template loading through @huggingface/transformers, from the two JSON files
// a Hugging Face repo ships (tokenizer.json, tokenizer_config.json). fetchJson is injected so the
// browser fetches URLs and Node tests read files.
//
// Besides encode/render, attribution needs each token's exact bytes (to map tokens back onto
// characters, see offsets.ts). transformers.js gives no offsets, so bytes come from the vocabulary:
// byte-level BPE token strings are the GPT-2 byte→unicode mapping of raw bytes; SentencePiece
// byte-fallback tokens are <0xNN>; added tokens are their literal content.
//
// transformers.js v4 has no `split_special_tokens` option: its encode always matches added tokens.
// encodePlain() is that option: a second tokenizer built from the same files without the special
// added tokens (built on first use), so text such as "<|im_end|>" goes through the normalizer,
// pre-tokenizer and model like any other text. Non-special added tokens (Qwen3's <think>) are still
// matched, as in transformers.
import { GPT2Tokenizer, LlamaTokenizer, PreTrainedTokenizer, Qwen2Tokenizer } from '@huggingface/transformers';
import type { ChatTokenizer, Conversation, TokenizerSource } from './types';
import { attributeChars } from './spans';

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

/** The normalizer as a string function; only Unicode normalization forms (the ones our
 *  tokenizers use) are supported, anything else is reported when the tokenizer loads. */
function buildNormalizer(node: unknown): { normalize: (s: string) => string; unsupported: string[] } {
  const unsupported: string[] = [];
  const forms: ('NFC' | 'NFD' | 'NFKC' | 'NFKD')[] = [];
  const walk = (n: unknown): void => {
    if (!isObject(n)) return;
    const t = String(n.type);
    if (t === 'Sequence' && Array.isArray(n.normalizers)) n.normalizers.forEach(walk);
    else if (t === 'NFC' || t === 'NFD' || t === 'NFKC' || t === 'NFKD') forms.push(t);
    else unsupported.push(t);
  };
  walk(node);
  return { normalize: (s) => forms.reduce((acc, f) => acc.normalize(f), s), unsupported };
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
  throw new Error(`${where} has no "chat_template". This playground renders chats with the model's own template; use a tokenizer_config.json that includes one.`);
}

/** Probe conversation for the end-of-turn marker: the added token that the template writes right
 *  after the assistant content (after optional whitespace). */
const PROBE: Conversation = [
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi there' },
];

export async function loadTokenizer(src: TokenizerSource, fetchJson: (url: string) => Promise<unknown>): Promise<ChatTokenizer> {
  const [tj, cj] = await Promise.all([fetchJson(src.tokenizerUrl), fetchJson(src.configUrl)]);
  if (!isObject(tj) || !isObject(tj.model)) {
    throw new Error(`${src.tokenizerUrl} is not a tokenizer.json (no "model" object). Check the file or URL.`);
  }
  if (!isObject(cj)) throw new Error(`${src.configUrl} is not a tokenizer_config.json object.`);
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

  const { normalize, unsupported } = buildNormalizer(tj.normalizer);
  const warnings: string[] = [];
  if (unsupported.length) {
    warnings.push(`${src.label}: normalizer step(s) ${unsupported.join(', ')} are not modelled; token texts may not reassemble the rendered chat.`);
  }

  const render = (conv: Conversation, addGenerationPrompt = false): string => {
    try {
      return hf.apply_chat_template(conv, { tokenize: false, add_generation_prompt: addGenerationPrompt }) as string;
    } catch (e) {
      throw new Error(`The ${src.label} chat template rejected this conversation: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const encode = (text: string): number[] => hf.encode(text, { add_special_tokens: false });
  let plain: PreTrainedTokenizer | null = null;
  const encodePlain = (text: string): number[] => {
    plain ??= new Cls({ ...tj, added_tokens: addedTokens.filter((a) => !(isObject(a) && a.special === true)) }, { ...cj, chat_template: template });
    return plain.encode(text, { add_special_tokens: false });
  };

  const eosTokenId = idOf(tokenContent(cj.eos_token));
  if (eosTokenId === null) throw new Error(`${src.configUrl}: eos_token ${JSON.stringify(cj.eos_token)} is not in the vocabulary.`);
  const padTokenId = idOf(tokenContent(cj.pad_token));

  // End-of-turn: whatever added token the template writes right after assistant content.
  const probe = render(PROBE);
  const { windows } = attributeChars((c) => render(c), PROBE, probe);
  const after = windows[1].end;
  const ws = /^\s*/.exec(probe.slice(after)) as RegExpExecArray;
  let endOfTurnTokenIds: number[] = [];
  let longest = 0;
  for (const [id, c] of added) {
    if (c.length > longest && probe.startsWith(c, after + ws[0].length)) {
      endOfTurnTokenIds = [id];
      longest = c.length;
    }
  }
  if (endOfTurnTokenIds.length === 0) {
    warnings.push(`${src.label}: the chat template writes no special token after an assistant message, so there is no end-of-turn token to train.`);
  }
  if (padTokenId !== null && endOfTurnTokenIds.includes(padTokenId)) {
    warnings.push(
      `${src.label}: the pad token is the end-of-turn token (${idToString[padTokenId]}). Masking padding by id would also mask every end of turn and the model would never learn to stop; padding here is masked by position instead.`,
    );
  }

  return {
    id: src.id,
    label: src.label,
    eosTokenId,
    endOfTurnTokenIds,
    padTokenId,
    vocabSize: idToString.length,
    warnings,
    render,
    encode,
    encodePlain,
    specialTexts,
    isSpecial: (id) => special.has(id),
    tokenBytes,
    tokenString: (id) => idToString[id] ?? `<unknown ${id}>`,
    addedTokenContent: (id) => added.get(id) ?? null,
    normalize,
  };
}
