// "Export for the trainer that scales": the preflight's hand-off to TRL, axolotl, LLaMA-Factory and
// torchtune. Pure functions (no DOM): they return strings and bytes, the page makes downloads of them.
//
// Two routes, stated once:
// - Pre-tokenized: the ids and labels this page computed, one row per sample, cut to maxLength.
//   Labels follow Hugging Face (labels[i] = ids[i] or -100, unshifted); every trainer below loads
//   such rows as they are (TRL: a dataset with input_ids and labels; axolotl: `type:` left empty).
//   It reproduces any mask exactly, hand overrides included, except a fractional prompt-loss
//   weight: a label file says "trained" or "-100", never "half".
// - Raw chats + a config: the conversations in the tool's dataset format, and the tool's options
//   (option names as in toolOptions.ts, which cites each tool's version) that make the tool's own
//   preprocessing mask the same tokens. `cannotExpress` lists every part of the mask the tool's
//   options cannot say, or where its preprocessing is known to train other tokens (the lab rows of
//   src/data/strategies show each case token by token); then fallback is 'pretokenized'.
//   A part that only matters for some samples (reasoning, tool calls, several assistant turns) is
//   listed when ctx.samples is absent or some sample has it.
import { Document } from 'yaml';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { IGNORE_INDEX } from '../labels';
import { englishOf, msg, type Message } from '../../spec/message';
import { REASONING_FIELDS } from '../fields';
import { TAGGED_TEMPLATES, hasGenerationMarkers } from '../strategies/taggedTemplates';
import type { ChatFamily, StrategyId, StrategyOptions } from '../strategies';
import type { ChatMessage, Conversation, MaskPolicy, PolicyRole, ToolList } from '../types';
import type { FindingId, Histogram, PreflightReport } from './types';
import { FINDING_IDS } from './types';
import { TOOL_IDS, TOOL_VERSIONS, TORCHTUNE_LAST_TURN_BUILDER, type ConfigKind, type ToolId } from './toolOptions';

export type { ToolId } from './toolOptions';

// ---------------------------------------------------------------------------------------------
// Pre-tokenized rows
// ---------------------------------------------------------------------------------------------

export interface TokenRow {
  ids: ArrayLike<number>;
  labels: ArrayLike<number>;
}

function cutRow(ids: ArrayLike<number>, labels: ArrayLike<number>, maxLength: number): { ids: number[]; labels: number[] } {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`maxLength must be a positive integer (got ${maxLength}).`);
  if (ids.length !== labels.length) throw new Error(`ids and labels differ in length (${ids.length} vs ${labels.length}); a row needs one label per token.`);
  const n = Math.min(ids.length, maxLength);
  const outIds = new Array<number>(n);
  const outLabels = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l !== ids[i] && l !== IGNORE_INDEX) throw new Error(`label ${l} at token ${i} is neither its id (${ids[i]}) nor ${IGNORE_INDEX}.`);
    outIds[i] = ids[i];
    outLabels[i] = l;
  }
  return { ids: outIds, labels: outLabels };
}

/** One JSONL line {"input_ids", "labels", "attention_mask"} cut to maxLength (no newline). */
export function pretokenizedLine(ids: ArrayLike<number>, labels: ArrayLike<number>, maxLength: number): string {
  const row = cutRow(ids, labels, maxLength);
  return JSON.stringify({ input_ids: row.ids, labels: row.labels, attention_mask: row.ids.map(() => 1) });
}

/** Every row as JSONL, one line each, newline-terminated. */
export function pretokenizedJsonl(rows: readonly TokenRow[], maxLength: number): string {
  return rows.map((r) => pretokenizedLine(r.ids, r.labels, maxLength) + '\n').join('');
}

/** A required list<int32> column in Parquet's three-level LIST layout (what pyarrow and datasets write). */
function int32ListSchema(name: string) {
  return [
    { name, repetition_type: 'REQUIRED' as const, converted_type: 'LIST' as const, num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED' as const, num_children: 1 },
    { name: 'element', type: 'INT32' as const, repetition_type: 'REQUIRED' as const },
  ];
}

const PARQUET_COLUMNS = ['input_ids', 'labels', 'attention_mask'] as const;

/** The same rows as a Parquet file: columns input_ids, labels, attention_mask, each list<int32>. */
export function pretokenizedParquet(rows: readonly TokenRow[], maxLength: number): Uint8Array {
  const cut = rows.map((r) => cutRow(r.ids, r.labels, maxLength));
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'input_ids', data: cut.map((r) => r.ids) },
      { name: 'labels', data: cut.map((r) => r.labels) },
      { name: 'attention_mask', data: cut.map((r) => r.ids.map(() => 1)) },
    ],
    schema: [{ name: 'root', num_children: PARQUET_COLUMNS.length }, ...PARQUET_COLUMNS.flatMap(int32ListSchema)],
    createdBy: 'sft-masking-playground preflight export',
  });
  return new Uint8Array(buffer);
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

export function reportJson(report: PreflightReport): string {
  // The messages' codes are for the page's languages; the file keeps the English text only.
  return JSON.stringify(report, (key, v: unknown) => (key === 'msg' || key === 'formatMsg' ? undefined : v), 2) + '\n';
}

/** How many sample lines a finding lists in the Markdown. */
const MD_SAMPLE_LINES = 10;

const FINDING_TITLES: Record<FindingId, string> = {
  'nothing-to-train': 'Nothing to train (every label -100)',
  'response-truncated': 'Response tokens cut by the context length',
  'eot-never-trained': 'End-of-turn never trained (the model may not learn to stop)',
  'pad-is-eos': 'Pad token is eos or an end-of-turn token',
  'empty-think-trained': 'Empty reasoning block trained',
  'typed-special-tokens': 'Special-token text typed in a message',
  'strategies-disagree': 'Compared strategies train different tokens',
};

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function histogramTable(h: Histogram, format: (x: number) => string): string[] {
  const rows = ['| bin | samples |', '| --- | ---: |'];
  h.counts.forEach((c, b) => {
    const close = b === h.counts.length - 1 ? ']' : ')';
    rows.push(`| [${format(h.edges[b])}, ${format(h.edges[b + 1])}${close} | ${c} |`);
  });
  return rows;
}

export function reportMarkdown(report: PreflightReport): string {
  const t = report.totals;
  const fatal = new Set(report.fatal);
  const options = Object.entries(report.strategy.options);
  const out: string[] = [
    '# Dataset preflight',
    '',
    '## Settings',
    '',
    `- Tokenizer: ${report.tokenizer}`,
    `- Strategy: ${report.strategy.label} (${report.strategy.source})`,
    `- Options: ${options.length ? options.map(([k, v]) => `\`${k}\` = \`${JSON.stringify(v)}\``).join(', ') : 'none'}`,
    `- Compared with: ${report.compared.length ? report.compared.map((c) => c.label).join(', ') : 'none'}`,
    `- Max length: ${report.maxLength}`,
    `- Input format: ${report.format}`,
    `- Fatal findings: ${report.fatal.length ? report.fatal.join(', ') : 'none'}`,
    `- Time: ${report.ms.toFixed(0)} ms`,
    '',
    '## Totals',
    '',
    '| | |',
    '| --- | ---: |',
    `| samples | ${t.samples} |`,
    `| tokens | ${t.tokens} |`,
    `| trained tokens | ${t.trainedTokens} (${pct(t.tokens ? t.trainedTokens / t.tokens : 0)}) |`,
    `| samples with a fatal finding | ${t.fatalSamples} |`,
    `| broken lines | ${report.brokenTotal} |`,
    '',
    '## Findings',
    '',
  ];
  const hit = FINDING_IDS.filter((id) => t.findings[id] > 0);
  if (hit.length === 0) out.push('No findings.', '');
  else {
    out.push('| finding | samples | fatal | first sample lines |', '| --- | ---: | :---: | --- |');
    for (const id of hit) {
      const lines = report.samples.filter((s) => s.findings.some((f) => f.id === id)).map((s) => s.line);
      const shown = lines.slice(0, MD_SAMPLE_LINES).join(', ') + (lines.length > MD_SAMPLE_LINES ? ', …' : '');
      out.push(`| ${FINDING_TITLES[id]} (\`${id}\`) | ${t.findings[id]} | ${fatal.has(id) ? 'yes' : ''} | ${shown} |`);
    }
    out.push('');
    for (const id of hit) {
      const first = report.samples.find((s) => s.findings.some((f) => f.id === id));
      const f = first?.findings.find((x) => x.id === id);
      if (first && f) out.push(`- \`${id}\`, line ${first.line}: ${mdCell(f.message)}`);
    }
    out.push('');
  }
  if (report.brokenLines.length) {
    out.push('## Broken lines', '', '| line | column | problem |', '| ---: | ---: | --- |');
    for (const e of report.brokenLines) out.push(`| ${e.line ?? ''} | ${e.column ?? ''} | ${mdCell(e.message)} |`);
    if (report.brokenTotal > report.brokenLines.length) out.push('', `… and ${report.brokenTotal - report.brokenLines.length} more.`);
    out.push('');
  }
  out.push(
    '## Packing',
    '',
    `Greedy first-fit into sequences of ${report.maxLength} tokens: ${t.packing.sequences} sequences, ${t.packing.samplesPerSequence.toFixed(2)} samples per sequence, ${pct(t.packing.fill)} of each sequence filled.`,
    '',
    '## Sample length (tokens)',
    '',
    ...histogramTable(report.histograms.length, (x) => String(Math.round(x))),
    '',
    '## Trained share per sample',
    '',
    ...histogramTable(report.histograms.share, (x) => pct(x)),
    '',
  );
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Config exports
// ---------------------------------------------------------------------------------------------

export type ExportMask = { kind: 'policy'; policy: MaskPolicy } | { kind: 'strategy'; id: StrategyId; options: StrategyOptions };

export interface ExportContext {
  family: ChatFamily;
  tokenizerLabel: string;
  /** The tokenizer's Jinja chat template (the one this page renders with). */
  chatTemplate: string;
  maxLength: number;
  packing?: boolean;
  /** Hugging Face model id or local path for the configs; a placeholder when absent. */
  modelId?: string;
  /** The samples to be exported: parts of the mask no sample exercises are left out of cannotExpress. */
  samples?: readonly Conversation[];
}

export interface ExportFile {
  name: string;
  text: string;
  /** The tool option table this file is checked against (toolOptions.ts); absent for templates and code. */
  check?: ConfigKind;
}

/** How datasetFiles writes the conversations for a tool. */
export type DatasetLayout =
  /** {"messages": [...], "tools"?: [...]} one JSON object a line (TRL conversational, axolotl chat_template). */
  | { kind: 'messages' }
  /** {"prompt": [...], "completion": [the last assistant message]} (TRL prompt-completion). */
  | { kind: 'prompt-completion' }
  /** As 'messages', each message with a boolean `field` saying whether it trains (axolotl message_field_training). */
  | { kind: 'messages-train-field'; field: string; trainToolResults: boolean }
  /** One JSON array of {"messages": [...], "tools"?: "<json>"} in LLaMA-Factory's sharegpt layout with OpenAI tags. */
  | { kind: 'sharegpt-openai' }
  /** {"messages": [{"role", "content"}]} one a line (torchtune chat_dataset, conversation_style openai). */
  | { kind: 'torchtune-openai' };

export interface ToolExport {
  tool: ToolId;
  /** Config files (and the training template or builder module they name). */
  files: ExportFile[];
  /** The dataset file the configs name, and how datasetFiles writes it. */
  dataset: { name: string; layout: DatasetLayout };
  /** Parts of the mask this tool's options cannot reproduce, for people. */
  cannotExpress: string[];
  /** `cannotExpress` as messages (the page shows them in its language). */
  cannotExpressMsgs?: Message[];
  /** 'pretokenized' when cannotExpress holds something the pre-tokenized rows do reproduce. */
  fallback: 'pretokenized' | null;
  notes: string[];
  /** `notes` as messages. */
  noteMsgs?: Message[];
}

const PRETOKENIZED_FILE = 'pretokenized.jsonl';
const MODEL_PLACEHOLDER = 'path/or/hub-id-of-your-model';
const OUTPUT_DIR = 'outputs/sft';
const CHAT_TEMPLATE_FILE = 'chat_template.jinja';
const LF_DATASET_NAME = 'preflight_export';
const AXOLOTL_TRAIN_FIELD = 'train';

/** The token that closes an assistant turn in each family's template. */
const TURN_CLOSER: Readonly<Record<ChatFamily, string | null>> = {
  chatml: '<|im_end|>',
  qwen3: '<|im_end|>',
  llama3: '<|eot_id|>',
  gemma: '<end_of_turn>',
  deepseek: '<｜end▁of▁sentence｜>',
  unknown: null,
};

/** LLaMA-Factory's registered template for each family (the lab row's default). */
const LF_TEMPLATE: Readonly<Record<ChatFamily, string | null>> = {
  chatml: 'chatml',
  qwen3: 'qwen3',
  llama3: 'llama3',
  gemma: 'gemma3',
  deepseek: 'deepseek3',
  unknown: null,
};

/** torchtune's tokenizer builder for each family, and the files it reads from the model folder. */
const TT_TOKENIZER: Readonly<Partial<Record<ChatFamily, Record<string, string>>>> = {
  llama3: { _component_: 'torchtune.models.llama3.llama3_tokenizer', path: 'original/tokenizer.model' },
  qwen3: { _component_: 'torchtune.models.qwen3.qwen3_tokenizer', path: 'vocab.json', merges_file: 'merges.txt' },
  chatml: { _component_: 'torchtune.models.qwen2_5.qwen2_5_tokenizer', path: 'vocab.json', merges_file: 'merges.txt' },
};

/** The mask as the four tools can be asked for it: our policy, or a strategy's rule restated. */
interface Intent {
  mode: 'response-only' | 'full';
  turns: 'all' | 'last';
  endOfTurn: boolean;
  reasoning: boolean;
  toolCalls: boolean;
  toolResults: boolean;
  /** Full mode only. */
  roles: Record<PolicyRole, boolean>;
  promptLossWeight: number;
  overrides: number;
  /** Parts of a strategy's rule only its own tool reproduces. */
  foreign: Message[];
  /** The tool whose own rule the strategy is, with its options: that tool's export is exact. */
  native: { tool: ToolId; id: StrategyId; options: StrategyOptions } | null;
}

const ALL_ROLES: Record<PolicyRole, boolean> = { system: true, user: true, assistant: true, template: true };

function baseIntent(): Intent {
  return { mode: 'response-only', turns: 'all', endOfTurn: true, reasoning: true, toolCalls: true, toolResults: false, roles: { ...ALL_ROLES }, promptLossWeight: 0, overrides: 0, foreign: [], native: null };
}

const opt = (o: StrategyOptions, k: string) => o[k];
const listOpt = (o: StrategyOptions, k: string, fallback: string[]): string[] => {
  const v = o[k];
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return fallback;
};

function intentOf(mask: ExportMask, family: ChatFamily): Intent {
  const it = baseIntent();
  if (mask.kind === 'policy') {
    const p = mask.policy;
    return { ...it, mode: p.mode, turns: p.assistantTurns, endOfTurn: p.trainEndOfTurn, reasoning: p.trainReasoning, toolCalls: p.trainToolCalls, toolResults: p.trainToolResults, roles: { ...p.roles }, promptLossWeight: p.promptLossWeight, overrides: Object.keys(p.overrides).length };
  }
  const o = mask.options;
  switch (mask.id) {
    case 'template-spans':
      throw new Error('The template-spans strategy trains what the settings panel’s mask policy says: export it as { kind: "policy", policy }.');
    case 'trl-assistant-only':
      it.native = { tool: 'trl', id: mask.id, options: o };
      if (opt(o, 'template') !== 'tagged') it.foreign.push(msg('export.plan.fTrlStock'));
      if (family === 'qwen3') it.foreign.push(msg('export.plan.fQwen3Think'));
      return it;
    case 'trl-completion-only':
      it.native = { tool: 'trl', id: mask.id, options: o };
      it.turns = 'last';
      it.foreign.push(msg('export.plan.fCompletion'));
      return it;
    case 'unsloth-responses-only':
      if (opt(o, 'last_response_only') === true) it.turns = 'last';
      it.foreign.push(msg('export.plan.fUnsloth', { response: JSON.stringify(opt(o, 'response_part')), instruction: JSON.stringify(opt(o, 'instruction_part')) }));
      return it;
    case 'trl-completion-collator':
      it.foreign.push(msg('export.plan.fCollator', { response: JSON.stringify(opt(o, 'response_template')) }));
      return it;
    case 'axolotl-chat-template': {
      it.native = { tool: 'axolotl', id: mask.id, options: o };
      const roles = listOpt(o, 'roles_to_train', ['assistant']).map((r) => (r === 'human' ? 'user' : r === 'gpt' ? 'assistant' : r));
      const eos = String(opt(o, 'train_on_eos') ?? 'turn');
      const eotRaw = String(opt(o, 'train_on_eot') ?? 'unset');
      const eot = eotRaw === 'unset' ? eos : eotRaw;
      it.toolResults = roles.includes('tool');
      if (opt(o, 'train_on_inputs') === true) {
        it.mode = 'full';
        it.roles = { system: true, user: true, assistant: true, template: false };
        it.foreign.push(msg('export.plan.fTrainOnInputs'));
      } else if (roles.some((r) => r === 'user' || r === 'system')) {
        it.mode = 'full';
        it.roles = { system: roles.includes('system'), user: roles.includes('user'), assistant: roles.includes('assistant'), template: false };
      }
      if (eot === 'none') it.endOfTurn = false;
      else if (eot !== 'turn') it.foreign.push(eot === 'all' ? msg('export.plan.fEotAll', { eot }) : msg('export.plan.fEotLast', { eot }));
      if (eos !== eot && eos !== 'turn' && eos !== 'none') it.foreign.push(msg('export.plan.fTrainOnEos', { eos }));
      for (const k of ['message_field_training', 'message_field_training_detail']) {
        const v = opt(o, k);
        if (typeof v === 'string' && v) it.foreign.push(msg('export.plan.fMessageField', { k, v: JSON.stringify(v) }));
      }
      if ((opt(o, 'excess_length_strategy') ?? 'drop') !== 'truncate') it.foreign.push(opt(o, 'excess_length_strategy') === 'raise' ? msg('export.plan.fExcessRaise', { value: String(opt(o, 'excess_length_strategy')) }) : msg('export.plan.fExcessDrop', { value: String(opt(o, 'excess_length_strategy') ?? 'drop') }));
      return it;
    }
    case 'llamafactory':
      it.native = { tool: 'llamafactory', id: mask.id, options: o };
      if (opt(o, 'train_on_prompt') === true) {
        it.mode = 'full';
        it.roles = { ...ALL_ROLES };
        it.toolResults = true;
      }
      if (opt(o, 'mask_history') === true) it.turns = 'last';
      it.foreign.push(opt(o, 'enable_thinking') === false ? msg('export.plan.fLfNoThinking', { template: JSON.stringify(opt(o, 'template')) }) : msg('export.plan.fLf', { template: JSON.stringify(opt(o, 'template')) }));
      return it;
    case 'torchtune': {
      it.native = { tool: 'torchtune', id: mask.id, options: o };
      const s = String(opt(o, 'masking_strategy') ?? 'train_on_assistant');
      if (s === 'train_on_last') it.turns = 'last';
      if (s === 'train_on_all') {
        it.mode = 'full';
        it.roles = { system: false, user: true, assistant: true, template: true };
        it.toolResults = true;
      }
      it.foreign.push(msg('export.plan.fTorchtune'));
      return it;
    }
    case 'llmbook':
      it.turns = 'last';
      it.foreign.push(msg('export.plan.fLlmbook', { source: JSON.stringify(opt(o, 'source')), bos: String(opt(o, 'add_bos')), eos: String(opt(o, 'add_eos')) }));
      return it;
  }
}

/** What the samples hold, for the parts of a mask only some samples exercise. */
interface Traits {
  multiTurn: boolean;
  reasoning: boolean;
  toolCalls: boolean;
  toolResults: boolean;
  emptyAssistant: boolean;
}

function traitsOf(samples: readonly Conversation[] | undefined): Traits {
  if (!samples) return { multiTurn: true, reasoning: true, toolCalls: true, toolResults: true, emptyAssistant: true };
  const t = { multiTurn: false, reasoning: false, toolCalls: false, toolResults: false, emptyAssistant: false };
  for (const conv of samples) {
    let turns = 0;
    for (const m of conv) {
      if (m.role === 'tool') t.toolResults = true;
      if (m.role !== 'assistant') continue;
      turns++;
      const f = m.fields ?? {};
      if (REASONING_FIELDS.some((k) => Object.hasOwn(f, k) && f[k]) || m.content.includes('</think>')) t.reasoning = true;
      if (Object.hasOwn(f, 'tool_calls') && f.tool_calls) t.toolCalls = true;
      if (m.content === '') t.emptyAssistant = true;
    }
    if (turns > 1) t.multiTurn = true;
  }
  return t;
}

/** Collects what a tool cannot say; `when` keeps an item only if the samples exercise it. */
class Gaps {
  readonly items: Message[] = [];
  /** Set when an item is one the pre-tokenized rows do reproduce (all but the fractional weight). */
  fixable = false;
  add(m: Message, fixable = true) {
    this.items.push(m);
    if (fixable) this.fixable = true;
  }
  when(present: boolean, m: Message) {
    if (present) this.add(m);
  }
}

/** The parts no tool's config can say, whatever the tool. */
function commonGaps(it: Intent, gaps: Gaps) {
  if (it.promptLossWeight > 0) {
    gaps.add(
      msg('export.plan.promptWeight', { weight: it.promptLossWeight }),
      false,
    );
  }
  if (it.overrides > 0) gaps.add(msg('export.plan.overrides', { n: it.overrides }));
  for (const f of it.foreign) gaps.add(f);
}

function allTokens(it: Intent): boolean {
  return it.mode === 'full' && it.roles.system && it.roles.user && it.roles.assistant && it.roles.template && it.endOfTurn && it.reasoning && it.toolCalls && it.toolResults && it.turns === 'all';
}

/** The template text renders reasoning / tool calls at all (otherwise their switches change nothing). */
const rendersReasoning = (template: string) => /reasoning_content|thinking|<think>/.test(template);
const rendersToolCalls = (template: string) => /tool_calls/.test(template);

function yamlFile(name: string, value: unknown, comment: string, check: ConfigKind): ExportFile {
  const doc = new Document(value);
  doc.commentBefore = comment
    .split('\n')
    .map((l) => ` ${l}`)
    .join('\n');
  return { name, text: doc.toString({ lineWidth: 0 }), check };
}

function finish(tool: ToolId, files: ExportFile[], dataset: ToolExport['dataset'], gaps: Gaps, notes: Message[]): ToolExport {
  const notesOut = [...notes];
  if (gaps.items.length) notesOut.push(msg('export.plan.fallback', { file: PRETOKENIZED_FILE }));
  return { tool, files, dataset, cannotExpress: gaps.items.map(englishOf), cannotExpressMsgs: gaps.items, fallback: gaps.fixable ? 'pretokenized' : null, notes: notesOut.map(englishOf), noteMsgs: notesOut };
}

// --- TRL ------------------------------------------------------------------------------------

function planTrl(it: Intent, ctx: ExportContext, tr: Traits): ToolExport {
  const gaps = new Gaps();
  const notes: Message[] = [msg('export.plan.trlRun', { version: TOOL_VERSIONS.trl })];
  const files: ExportFile[] = [];
  const native = it.native?.tool === 'trl' ? it.native : null;
  if (!native) commonGaps(it, gaps);
  else for (const f of it.foreign) notes.push(msg('export.plan.asStrategy', { what: f }));
  let layout: DatasetLayout = { kind: 'messages' };
  const config: Record<string, unknown> = {
    model_name_or_path: ctx.modelId ?? MODEL_PLACEHOLDER,
    datasets: [{ path: 'json', data_files: 'train.jsonl', split: 'train' }],
    output_dir: OUTPUT_DIR,
    max_length: ctx.maxLength,
    truncation_mode: 'keep_start',
    packing: ctx.packing ?? false,
  };
  const tagged = TAGGED_TEMPLATES[ctx.family] ?? (hasGenerationMarkers(ctx.chatTemplate) ? ctx.chatTemplate : null);
  const useTagged = () => {
    if (tagged) {
      files.push({ name: CHAT_TEMPLATE_FILE, text: tagged });
      config.chat_template_path = CHAT_TEMPLATE_FILE;
      notes.push(
        TAGGED_TEMPLATES[ctx.family]
          ? msg('export.plan.taggedCopy', { file: CHAT_TEMPLATE_FILE, family: ctx.family })
          : msg('export.plan.taggedOwn', { file: CHAT_TEMPLATE_FILE }),
      );
    } else gaps.add(msg('export.plan.noTagged', { label: ctx.tokenizerLabel, family: ctx.family }));
  };
  if (native?.id === 'trl-completion-only') {
    layout = { kind: 'prompt-completion' };
    config.completion_only_loss = true;
  } else if (native?.id === 'trl-assistant-only') {
    config.assistant_only_loss = true;
    if (native.options.template === 'tagged') useTagged();
    else notes.push(msg('export.plan.noTemplatePath'));
  } else if (allTokens(it)) {
    config.assistant_only_loss = false;
    config.completion_only_loss = false;
    notes.push(msg('export.plan.trlAll'));
  } else {
    if (it.mode === 'full') gaps.add(msg('export.plan.trlFull'));
    if (it.toolResults) gaps.when(tr.toolResults, msg('export.plan.trlToolResults'));
    if (!it.endOfTurn) gaps.add(msg('export.plan.trlEndOfTurn'));
    useTagged();
    if (tagged && rendersReasoning(tagged)) {
      if (!it.reasoning) gaps.when(tr.reasoning, msg('export.plan.trlReasoning'));
      if (ctx.family === 'qwen3') gaps.add(msg('export.plan.trlQwen3Think'));
    }
    if (tagged && rendersToolCalls(tagged) && !it.toolCalls) gaps.when(tr.toolCalls, msg('export.plan.trlToolCalls'));
    config.assistant_only_loss = true;
    if (it.turns === 'last') {
      layout = { kind: 'prompt-completion' };
      config.completion_only_loss = true;
      notes.push(msg('export.plan.trlLastTurn'));
    }
  }
  notes.push(msg('export.plan.trlDrops'));
  files.unshift(yamlFile('sft_config.yaml', config, `TRL SFT config for \`trl sft --config sft_config.yaml\` (${TOOL_VERSIONS.trl}).\nDataset: train.jsonl next to this file (datasetFiles).`, 'trl-sft'));
  return finish('trl', files, { name: 'train.jsonl', layout }, gaps, notes);
}

// --- axolotl --------------------------------------------------------------------------------

function planAxolotl(it: Intent, ctx: ExportContext, tr: Traits): ToolExport {
  const gaps = new Gaps();
  const notes: Message[] = [msg('export.plan.axolotlRun', { version: TOOL_VERSIONS.axolotl })];
  const native = it.native?.tool === 'axolotl' ? it.native.options : null;
  let layout: DatasetLayout = { kind: 'messages' };
  const closer = TURN_CLOSER[ctx.family];
  const dataset: Record<string, unknown> = { path: 'train.jsonl', ds_type: 'json', type: 'chat_template', field_messages: 'messages' };
  const config: Record<string, unknown> = {
    base_model: ctx.modelId ?? MODEL_PLACEHOLDER,
    chat_template: 'jinja',
    chat_template_jinja: ctx.chatTemplate,
    datasets: [dataset],
    sequence_len: ctx.maxLength,
    excess_length_strategy: 'truncate',
    sample_packing: ctx.packing ?? false,
    output_dir: OUTPUT_DIR,
  };
  notes.push(msg('export.plan.axolotlTemplate'));
  if (native) {
    const roles = listOpt(native, 'roles_to_train', ['assistant']);
    dataset.roles_to_train = roles;
    dataset.train_on_eos = String(native.train_on_eos ?? 'turn');
    if (native.train_on_eot !== undefined && native.train_on_eot !== 'unset') dataset.train_on_eot = String(native.train_on_eot);
    const eot = listOpt(native, 'eot_tokens', []);
    if (eot.length) config.eot_tokens = eot;
    for (const k of ['message_field_training', 'message_field_training_detail']) if (typeof native[k] === 'string' && native[k]) dataset[k] = native[k];
    if (native.train_on_inputs === true) config.train_on_inputs = true;
    config.excess_length_strategy = String(native.excess_length_strategy ?? 'drop');
  } else {
    commonGaps(it, gaps);
    const roles: string[] = it.mode === 'full' ? (['system', 'user', 'assistant'] as const).filter((r) => it.roles[r]) : ['assistant'];
    if (it.toolResults) roles.push('tool');
    dataset.roles_to_train = roles;
    const eotValue = it.endOfTurn ? 'turn' : 'none';
    // train_on_eos follows train_on_eot so that axolotl's conflict check (eos in eot_tokens) never fires.
    dataset.train_on_eos = eotValue;
    dataset.train_on_eot = eotValue;
    if (closer) config.eot_tokens = [closer];
    else if (it.endOfTurn) gaps.add(msg('export.plan.axolotlNoEot', { label: ctx.tokenizerLabel }));
    if (it.mode === 'full') {
      if (it.roles.template) gaps.add(msg('export.plan.axolotlMarkup'));
      if (it.endOfTurn && (it.roles.system || it.roles.user)) gaps.add(msg('export.plan.axolotlEotOthers'));
    }
    if (it.toolResults) gaps.when(tr.toolResults, msg('export.plan.axolotlToolResults'));
    if (it.turns === 'last') {
      layout = { kind: 'messages-train-field', field: AXOLOTL_TRAIN_FIELD, trainToolResults: it.toolResults };
      dataset.message_field_training = AXOLOTL_TRAIN_FIELD;
      notes.push(it.toolResults ? msg('export.plan.axolotlLastTools', { field: AXOLOTL_TRAIN_FIELD }) : msg('export.plan.axolotlLast', { field: AXOLOTL_TRAIN_FIELD }));
    }
    if (rendersReasoning(ctx.chatTemplate)) {
      if (!it.reasoning) gaps.when(tr.reasoning, msg('export.plan.axolotlReasoningOff'));
      gaps.when(tr.reasoning, msg('export.plan.axolotlReasoning'));
    }
    if (rendersToolCalls(ctx.chatTemplate) && !it.toolCalls) gaps.when(tr.toolCalls, msg('export.plan.axolotlToolCalls'));
    if (ctx.family === 'qwen3' && it.turns === 'all') gaps.when(tr.multiTurn, msg('export.plan.axolotlQwen3Turns'));
    gaps.when(tr.emptyAssistant, msg('export.plan.axolotlEmpty'));
  }
  const file = yamlFile('axolotl.yaml', config, `axolotl config (${TOOL_VERSIONS.axolotl}): \`axolotl train axolotl.yaml\`.\nDataset: train.jsonl next to this file (datasetFiles).`, 'axolotl');
  return finish('axolotl', [file], { name: 'train.jsonl', layout }, gaps, notes);
}

// --- LLaMA-Factory ------------------------------------------------------------------------

function planLlamaFactory(it: Intent, ctx: ExportContext, tr: Traits): ToolExport {
  const gaps = new Gaps();
  const notes: Message[] = [
    msg('export.plan.lfRun', { version: TOOL_VERSIONS.llamafactory }),
    msg('export.plan.lfIds'),
    msg('export.plan.lfCutoff'),
  ];
  const native = it.native?.tool === 'llamafactory' ? it.native.options : null;
  const template = native ? String(native.template) : LF_TEMPLATE[ctx.family];
  const train: Record<string, unknown> = {
    model_name_or_path: ctx.modelId ?? MODEL_PLACEHOLDER,
    stage: 'sft',
    do_train: true,
    finetuning_type: 'lora',
    dataset: LF_DATASET_NAME,
    dataset_dir: '.',
    template,
    cutoff_len: ctx.maxLength,
    train_on_prompt: false,
    mask_history: false,
    packing: ctx.packing ?? false,
    output_dir: OUTPUT_DIR,
  };
  if (native) {
    train.train_on_prompt = native.train_on_prompt === true;
    train.mask_history = native.mask_history === true;
    if (typeof native.enable_thinking === 'boolean') train.enable_thinking = native.enable_thinking;
    if (native.preserve_thinking === true) train.preserve_thinking = true;
  } else {
    commonGaps(it, gaps);
    if (!template) gaps.add(msg('export.plan.lfNoTemplate', { label: ctx.tokenizerLabel }));
    if (ctx.family === 'qwen3') {
      // Off, an answer without a thought gets the empty "<think>\n\n</think>\n\n" in its prompt (masked), not its target.
      train.enable_thinking = false;
    }
    if (allTokens(it)) train.train_on_prompt = true;
    else {
      if (it.mode === 'full') gaps.add(msg('export.plan.lfFull'));
      if (it.turns === 'last') train.mask_history = true;
      if (!it.endOfTurn) gaps.add(msg('export.plan.lfEndOfTurn'));
      if (ctx.family === 'chatml' || ctx.family === 'qwen3' || ctx.family === 'gemma') gaps.add(msg('export.plan.lfNewline', { closer: TURN_CLOSER[ctx.family] ?? '' }));
      if (it.toolResults) gaps.when(tr.toolResults, msg('export.plan.lfToolResults'));
      if (!it.toolCalls) gaps.when(tr.toolCalls, msg('export.plan.lfToolCalls'));
      if (!it.reasoning) gaps.when(tr.reasoning, msg('export.plan.lfReasoning'));
    }
  }
  const info = {
    [LF_DATASET_NAME]: {
      file_name: 'train.json',
      formatting: 'sharegpt',
      columns: { messages: 'messages', tools: 'tools' },
      tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', observation_tag: 'tool', function_tag: 'function_call', system_tag: 'system' },
    },
  };
  const files: ExportFile[] = [
    { name: 'dataset_info.json', text: JSON.stringify(info, null, 2) + '\n', check: 'llamafactory-dataset-info' },
    yamlFile('llamafactory_sft.yaml', train, `LLaMA-Factory SFT arguments (${TOOL_VERSIONS.llamafactory}): \`llamafactory-cli train llamafactory_sft.yaml\`.`, 'llamafactory-train'),
  ];
  return finish('llamafactory', files, { name: 'train.json', layout: { kind: 'sharegpt-openai' } }, gaps, notes);
}

// --- torchtune ------------------------------------------------------------------------------

const TT_BUILDER_MODULE = TORCHTUNE_LAST_TURN_BUILDER.split('.')[0];
const TT_BUILDER_FUNCTION = TORCHTUNE_LAST_TURN_BUILDER.split('.')[1];

function torchtuneBuilder(): ExportFile {
  const text = [
    '# A chat dataset builder with masking_strategy: torchtune 0.7.0’s chat_dataset passes only',
    '# train_on_input to OpenAIToMessages, so train_on_last needs its own builder. Put this file',
    '# next to the recipe config (or on PYTHONPATH); the config names it as its _component_.',
    'from torchtune.data import OpenAIToMessages',
    'from torchtune.datasets import PackedDataset, SFTDataset',
    '',
    '',
    `def ${TT_BUILDER_FUNCTION}(tokenizer, *, source, data_files, split="train", packed=False, conversation_column="messages", masking_strategy="train_on_last"):`,
    '    ds = SFTDataset(',
    '        source=source,',
    '        data_files=data_files,',
    '        split=split,',
    '        message_transform=OpenAIToMessages(masking_strategy=masking_strategy, column_map={"messages": conversation_column}),',
    '        model_transform=tokenizer,',
    '    )',
    '    return PackedDataset(ds, max_seq_len=tokenizer.max_seq_len) if packed else ds',
    '',
  ].join('\n');
  return { name: `${TT_BUILDER_MODULE}.py`, text };
}

function planTorchtune(it: Intent, ctx: ExportContext, tr: Traits): ToolExport {
  const gaps = new Gaps();
  const notes: Message[] = [
    msg('export.plan.ttRun', { version: TOOL_VERSIONS.torchtune }),
    msg('export.plan.ttIds'),
  ];
  const native = it.native?.tool === 'torchtune' ? it.native.options : null;
  const tokenizer = TT_TOKENIZER[ctx.family];
  const strategy = native ? String(native.masking_strategy ?? 'train_on_assistant') : allTokens(it) || it.mode === 'full' ? 'train_on_all' : it.turns === 'last' ? 'train_on_last' : 'train_on_assistant';
  if (!tokenizer) gaps.add(msg('export.plan.ttNoTokenizer', { label: ctx.tokenizerLabel }));
  if (!native) {
    commonGaps(it, gaps);
    if (it.mode === 'response-only') gaps.add(msg('export.plan.ttHeader'));
    else gaps.add(msg('export.plan.ttFull'));
    if (!it.endOfTurn) gaps.add(msg('export.plan.ttEndOfTurn'));
    if (ctx.family === 'chatml' || ctx.family === 'qwen3') gaps.when(tr.multiTurn, msg('export.plan.ttImEnd'));
    gaps.when(tr.reasoning || tr.toolCalls, msg('export.plan.ttFields'));
    if (it.toolResults) gaps.when(tr.toolResults, msg('export.plan.ttToolResults'));
  }
  const tokenizerSection = tokenizer ? { ...tokenizer, path: `/path/to/model/${tokenizer.path}`, ...(tokenizer.merges_file ? { merges_file: `/path/to/model/${tokenizer.merges_file}` } : {}) } : null;
  const common = { source: 'json', data_files: 'train.jsonl', split: 'train', conversation_column: 'messages', packed: ctx.packing ?? false };
  const files: ExportFile[] = [];
  let dataset: Record<string, unknown>;
  if (strategy === 'train_on_last') {
    dataset = { _component_: TORCHTUNE_LAST_TURN_BUILDER, ...common, masking_strategy: 'train_on_last' };
    files.push(torchtuneBuilder());
    notes.push(msg('export.plan.ttBuilder', { module: TT_BUILDER_MODULE }));
  } else dataset = { _component_: 'torchtune.datasets.chat_dataset', ...common, conversation_style: 'openai', train_on_input: strategy === 'train_on_all' };
  const config: Record<string, unknown> = { ...(tokenizerSection ? { tokenizer: { ...tokenizerSection, max_seq_len: ctx.maxLength } } : {}), dataset };
  files.unshift(yamlFile('torchtune_dataset.yaml', config, `torchtune tokenizer and dataset sections (${TOOL_VERSIONS.torchtune}).\nDataset: train.jsonl (datasetFiles).`, 'torchtune'));
  return finish('torchtune', files, { name: 'train.jsonl', layout: { kind: 'torchtune-openai' } }, gaps, notes);
}

const PLANNERS: Record<ToolId, (it: Intent, ctx: ExportContext, tr: Traits) => ToolExport> = {
  trl: planTrl,
  axolotl: planAxolotl,
  llamafactory: planLlamaFactory,
  torchtune: planTorchtune,
};

/** One export per tool: configs that reproduce `mask` from the raw chats, or what they cannot. */
export function exportPlan(mask: ExportMask, ctx: ExportContext): ToolExport[] {
  if (!Number.isInteger(ctx.maxLength) || ctx.maxLength < 1) throw new RangeError(`maxLength must be a positive integer (got ${ctx.maxLength}).`);
  const traits = traitsOf(ctx.samples);
  return TOOL_IDS.map((tool) => PLANNERS[tool](intentOf(mask, ctx.family), ctx, traits));
}

// ---------------------------------------------------------------------------------------------
// Datasets in each tool's format
// ---------------------------------------------------------------------------------------------

/** A message as the template is given it: its template role, its content (or none), its other fields. */
function templateMessage(m: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.templateRole ?? m.role };
  if (m.noContent === 'null') out.content = null;
  else if (m.noContent !== 'absent') out.content = m.content;
  for (const [k, v] of Object.entries(m.fields ?? {})) if (k !== 'role' && k !== 'content') out[k] = v;
  return out;
}

function reasoningOf(m: ChatMessage): string {
  const f = m.fields ?? {};
  for (const k of REASONING_FIELDS) if (Object.hasOwn(f, k) && typeof f[k] === 'string' && f[k]) return f[k] as string;
  return '';
}

/** LLaMA-Factory's function_call content: the calls as {name, arguments} JSON. */
function functionCallContent(calls: unknown): string {
  const list = (Array.isArray(calls) ? calls : [calls]).map((c) => {
    const fn = typeof c === 'object' && c !== null && 'function' in c ? (c as { function: unknown }).function : c;
    const { name, arguments: args } = (fn ?? {}) as { name?: unknown; arguments?: unknown };
    return { name, arguments: typeof args === 'string' ? safeJson(args) : args };
  });
  return JSON.stringify(list.length === 1 ? list[0] : list);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** One sample in LLaMA-Factory's sharegpt layout, or why LLaMA-Factory would skip it. */
function sharegptSample(conv: Conversation, tools: ToolList | null): { row: Record<string, unknown> } | { skip: string } {
  const messages: { role: string; content: string }[] = [];
  const lateSystem = conv.findIndex((m, i) => i > 0 && (m.role === 'system' || m.role === 'developer'));
  if (lateSystem > 0) return { skip: `message ${lateSystem + 1} is a system message after the first (LLaMA-Factory reads one system prompt, first)` };
  conv.forEach((m) => {
    if (m.role === 'system' || m.role === 'developer') messages.push({ role: 'system', content: m.content });
    else if (m.role === 'tool') messages.push({ role: 'tool', content: m.content });
    else if (m.role === 'user') messages.push({ role: 'user', content: m.content });
    else {
      const calls = m.fields?.tool_calls;
      const thought = reasoningOf(m);
      const content = thought ? `<think>\n${thought}\n</think>\n\n${m.content}` : m.content;
      if (calls) messages.push({ role: 'function_call', content: functionCallContent(calls) });
      else messages.push({ role: 'assistant', content });
    }
  });
  const last = messages.map((m) => m.role === 'assistant' || m.role === 'function_call').lastIndexOf(true);
  if (last < 0) return { skip: 'no assistant message' };
  const body = messages.slice(messages[0]?.role === 'system' ? 1 : 0, last + 1);
  for (let i = 0; i < body.length; i++) {
    const even = body[i].role === 'user' || body[i].role === 'tool';
    if (even !== (i % 2 === 0)) return { skip: `message ${i + 1} breaks LLaMA-Factory’s user/assistant alternation` };
  }
  const row: Record<string, unknown> = { messages: messages.slice(0, last + 1) };
  if (tools) row.tools = JSON.stringify(tools);
  return { row };
}

export interface DatasetFile {
  name: string;
  text: string;
  /** Samples the tool will not see as they are here (skipped, shortened, fields dropped). */
  notes: string[];
  /** `notes` as messages. */
  noteMsgs?: Message[];
}

/** A file's notes, in English and as messages. */
const said = (notes: Message[]) => ({ notes: notes.map(englishOf), noteMsgs: notes });

/** The samples in the dataset format `plan` names for `tool`; tools[i] is sample i's tool list. */
export function datasetFiles(samples: readonly Conversation[], tool: ToolId, plan: ToolExport, tools?: readonly (ToolList | null)[]): DatasetFile {
  if (plan.tool !== tool) throw new Error(`The plan is for ${plan.tool}, not ${tool}.`);
  const layout = plan.dataset.layout;
  const notes: Message[] = [];
  const toolsOf = (i: number) => tools?.[i] ?? null;
  const withTools = (row: Record<string, unknown>, i: number) => (toolsOf(i) ? { ...row, tools: toolsOf(i) } : row);
  const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');
  const lastAssistant = (conv: Conversation) => conv.map((m) => m.role).lastIndexOf('assistant');
  switch (layout.kind) {
    case 'messages':
      return { name: plan.dataset.name, text: jsonl(samples.map((c, i) => withTools({ messages: c.map(templateMessage) }, i))), ...said(notes) };
    case 'messages-train-field': {
      const rows = samples.map((c, i) => {
        const last = lastAssistant(c);
        const messages = c.map((m, j) => ({ ...templateMessage(m), [layout.field]: j === last || (layout.trainToolResults && m.role === 'tool') }));
        return withTools({ messages }, i);
      });
      return { name: plan.dataset.name, text: jsonl(rows), ...said(notes) };
    }
    case 'prompt-completion': {
      const rows: unknown[] = [];
      let skipped = 0;
      samples.forEach((c, i) => {
        const last = lastAssistant(c);
        if (last < 0) skipped++;
        else rows.push(withTools({ prompt: c.slice(0, last).map(templateMessage), completion: [templateMessage(c[last])] }, i));
      });
      if (skipped) notes.push(msg('export.plan.dsNoCompletion', { n: skipped }));
      return { name: plan.dataset.name, text: jsonl(rows), ...said(notes) };
    }
    case 'sharegpt-openai': {
      const rows: unknown[] = [];
      const skips: string[] = [];
      samples.forEach((c, i) => {
        const r = sharegptSample(c, toolsOf(i));
        if ('row' in r) rows.push(r.row);
        else skips.push(`sample ${i + 1}: ${r.skip}`);
      });
      if (skips.length) notes.push(msg('export.plan.dsSkipped', { n: skips.length, which: `${skips.slice(0, 5).join('; ')}${skips.length > 5 ? '; …' : ''}` }));
      if (samples.some((c) => c.some((m) => m.role === 'assistant' && m.fields?.tool_calls && m.content))) notes.push(msg('export.plan.dsFunctionCall'));
      return { name: plan.dataset.name, text: JSON.stringify(rows, null, 2) + '\n', ...said(notes) };
    }
    case 'torchtune-openai': {
      if (samples.some((c) => c.some((m) => m.fields && Object.keys(m.fields).length > 0))) notes.push(msg('export.plan.dsFields'));
      const rows = samples.map((c) => ({ messages: c.map((m) => ({ role: m.role, content: m.content })) }));
      return { name: plan.dataset.name, text: jsonl(rows), ...said(notes) };
    }
  }
}
