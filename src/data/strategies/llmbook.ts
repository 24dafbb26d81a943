// LLMBook (the RUCAIBox book's code, LLMBook-zh/LLMBook-zh.github.io 4bb1421): code/7.2
// SFT数据类.py SFTDataset.encode_src_tgt, and code/7.1 SFT实践.py for the tokenizer and collator.
//
// Its data is one instruction and one output. The source `s` is its Alpaca-style prompt ending
// "\n### Output:\n"; the target `t` is output.strip(). Then:
//   source_id = tokenizer.encode(s, max_length=model_max_length, truncation=True)
//   tokenizer.add_eos_token = True; input_id = tokenizer.encode(s + t, …); add_eos_token = False
//   label = input_id.clone(); label[:len(source_id)] = -100
// The tokenizer is loaded with add_eos_token=False, padding_side="right". encode adds the
// tokenizer's own special tokens: a BOS where its post-processor writes one (Llama 3, Gemma,
// DeepSeek). Setting add_eos_token only changes anything in the classes that define it
// (transformers 4.x LlamaTokenizer(Fast), GemmaTokenizer(Fast)). With the others (Llama 3's
// PreTrainedTokenizerFast, Qwen2Tokenizer) no eos is appended. Truncation keeps the special tokens
// and cuts the text between them. The collator pads input_ids with pad_token_id and labels with -100
// (pad_sequence, right). A single sample is shown here unpadded.
//
// Options: `source` 'chat template' (this lab's reading for chats: s = the chat rendered up to the
// last assistant message with the generation prompt, tok.render(prefix, true); t = the rest of the
// full rendering, which must start with s) or 'book prompt' (LLMBook's own format: the last user
// message as the instruction, the last assistant message as the output, everything else unused).
// `add_bos` / `add_eos` say what this tokenizer's encode does (defaults by family, as above).
//
// Since s is tokenized alone, len(source_id) can disagree with where s ends inside s + t: a merge
// across the boundary (s ends "Answer: ", t starts "Four" → "ĠFour") masks the target's first
// token by accident; a split trains source text. The notes name each such token.
// Tokens cut by model_max_length stay in the row after the sequence (eos included), masked, with
// the truncation reason.
import { raised, textSpans } from './common';
import { reason, said } from './reasons';
import { append, finish, newSequence } from './sequence';
import type { ChatFamily, Strategy, StrategyInput, StrategyOptions, StrategyOutput } from './types';
import { msg, worded } from '../../spec/message';

export const SOURCES = ['chat template', 'book prompt'] as const;

/** code/7.2's prompt_no_input. */
export const bookPrompt = (instruction: string): string =>
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.' + '\n### Instruction:\n' + instruction + '\n### Output:\n';

/** Whether the family's released tokenizer adds a BOS on encode, and honours add_eos_token. */
const ADDS_BOS: ReadonlySet<ChatFamily> = new Set(['llama3', 'gemma', 'deepseek']);
const HONOURS_ADD_EOS: ReadonlySet<ChatFamily> = new Set(['gemma', 'deepseek']);

export const llmbook: Strategy = {
  id: 'llmbook',
  label: 'LLMBook (encode_src_tgt)',
  source: 'LLMBook (LLMBook-zh.github.io 4bb1421), code/7.2 SFT数据类.py encode_src_tgt + code/7.1 SFT实践.py collator',
  options: [
    { key: 'source', label: 'source / target', kind: 'choice', choices: SOURCES, help: 'chat template: source = the chat up to the last answer with the generation prompt, target = the rest; book prompt: LLMBook’s own instruction prompt and the stripped output.' },
    { key: 'add_bos', label: 'encode adds BOS', kind: 'flag', help: 'tokenizer.encode adds the tokenizer’s BOS (add_special_tokens=True), to the source alone and to source + target.' },
    { key: 'add_eos', label: 'add_eos_token honoured', kind: 'flag', help: 'add_eos_token=True appends eos (LlamaTokenizer, GemmaTokenizer); other classes ignore it.' },
  ],
  defaults: (family) => ({ source: 'chat template', add_bos: ADDS_BOS.has(family), add_eos: HONOURS_ADD_EOS.has(family) }),
  validate(options) {
    return (SOURCES as readonly string[]).includes(String(options.source)) ? null : { key: 'source', ...worded(msg('strategy.oneOfNoStop', { key: 'source', choices: SOURCES.join(', ') })) };
  },
  run: (input, options) => runLlmbook(input, options),
};

function sourceTarget({ tok, conversation, tools }: StrategyInput, mode: string, notes: string[]): { s: string; t: string } | string {
  let a = -1;
  conversation.forEach((m, i) => {
    if (m.role === 'assistant') a = i;
  });
  if (a < 0) return said(msg('lab.error.bookNoOutput'));
  if (mode === 'book prompt') {
    let u = a - 1;
    while (u >= 0 && conversation[u].role !== 'user') u--;
    const unused = conversation.length - 1 - (u >= 0 ? 1 : 0);
    if (unused > 0) notes.push(said(msg('lab.note.bookUnused', { n: unused })));
    return { s: bookPrompt(u >= 0 ? conversation[u].content : ''), t: conversation[a].content.trim() };
  }
  let s: string;
  let full: string;
  try {
    s = tok.render(conversation.slice(0, a), true, tools);
    full = tok.render(conversation, false, tools);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  if (!full.startsWith(s)) return said(msg('lab.error.bookNoSplit'));
  return { s, t: full.slice(s.length) };
}

function runLlmbook(input: StrategyInput, options: StrategyOptions): StrategyOutput {
  const { tok, maxLength } = input;
  const notes: string[] = [];
  const st = sourceTarget(input, String(options.source), notes);
  if (typeof st === 'string') return raised('', [], st);
  const { s, t } = st;
  const bos = options.add_bos === true && tok.bosText !== null ? (tok.encode(tok.bosText)[0] ?? null) : null;
  const bosText = bos === null ? '' : (tok.addedTokenContent(bos) ?? '');
  const eos = options.add_eos === true ? tok.eosTokenId : null;
  const nb = bos === null ? 0 : 1;
  const ne = eos === null ? 0 : 1;

  // source_id: special tokens kept, the text cut to what is left of max_length.
  const sourceContent = tok.encode(s);
  const n = nb + Math.min(sourceContent.length, Math.max(maxLength - nb, 0));
  const content = tok.encode(s + t);
  const keep = Math.min(content.length, Math.max(maxLength - nb - ne, 0));
  const spans = textSpans(tok, s + t, content);
  const piece = (i: number) => spans.text.slice(spans.starts[i], spans.ends[i]);

  const seq = newSequence();
  const at = (i: number) => nb + i; // position of content token i
  if (bos !== null) append(seq, bosText, [bos], false, reason.insideSource(n));
  for (let i = 0; i < keep; i++) append(seq, piece(i), [content[i]], at(i) >= n, at(i) < n ? reason.insideSource(n) : reason.afterSource(n));
  if (eos !== null) append(seq, tok.addedTokenContent(eos) ?? '', [eos], nb + keep >= n, nb + keep >= n ? reason.endOfSequence(true, 'add_eos_token=True') : reason.insideSource(n));
  for (let i = keep; i < content.length; i++) append(seq, piece(i), [content[i]], false, reason.truncated(maxLength));

  if (bos !== null && s.startsWith(bosText)) notes.push(said(msg('lab.note.twoBos', { bos: bosText })));
  if (eos === null) notes.push(said(msg('lab.note.noEos')));
  if (keep < content.length) notes.push(said(msg('lab.note.modelMaxLength', { max: maxLength, n: content.length - keep })));
  if (n >= maxLength) notes.push(said(msg('lab.note.sourceFills')));
  else if (spans.exact) notes.push(...boundaryDrift(s.length, n, nb, keep, spans.starts, spans.ends, piece));
  return finish(seq, notes);
}

/** Tokens of s + t whose text disagrees with their label: inside len(source_id) but holding
 *  target characters (masked by accident), or past it but holding source characters (trained by
 *  accident). S = s.length, n = len(source_id), nb = BOS count. */
function boundaryDrift(S: number, n: number, nb: number, keep: number, starts: Int32Array, ends: Int32Array, piece: (i: number) => string): string[] {
  const out: string[] = [];
  for (let i = 0; i < keep; i++) {
    const p = nb + i;
    const target = ends[i] > S;
    const source = starts[i] < S;
    if (p < n && target) out.push(said(msg('lab.note.driftMasked', { p, piece: JSON.stringify(piece(i)), n })));
    if (p >= n && source) out.push(said(msg('lab.note.driftTrained', { p, piece: JSON.stringify(piece(i)), n })));
  }
  return out;
}
