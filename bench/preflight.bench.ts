// `npm run bench:preflight [-- N [--compare ID]...]`: the dataset preflight's checks (runPreflight:
// parse, template-spans labels, our attribution, every finding, totals, histograms, packing) on N
// generated ChatML samples (default 20,000) with the 'default' tokenizer, in Node. Prints the time
// and samples/s; bench/preflight.md records a run. The pre-tokenized export and the report's JSON
// are not part of the timing.
import { cpus } from 'node:os';
import { loadNodeTokenizer } from '../src/data/testkit';
import { runPreflight } from '../src/data/preflight/run';
import type { LabChoice, StrategyId } from '../src/data/strategies';

const DEFAULT_SAMPLES = 20_000;
const MAX_LENGTH = 2048;

const argv = process.argv.slice(2);
const compare: LabChoice[] = [];
let samples = DEFAULT_SAMPLES;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--compare') compare.push({ id: argv[++i] as StrategyId, options: {} });
  else samples = Number(argv[i]);
}
if (!Number.isSafeInteger(samples) || samples < 1) throw new Error(`give the number of samples as a positive integer (got ${argv.join(' ')})`);

const TOPICS = ['tides', 'prime numbers', 'bread', 'sorting', 'volcanoes', 'chess openings', 'compilers', 'bees'];
/** Sample k: one to three turns, a system prompt on every third, answers of 5 to 60 words. */
function sample(k: number): string {
  const topic = TOPICS[k % TOPICS.length];
  const messages: { role: string; content: string }[] = [];
  if (k % 3 === 0) messages.push({ role: 'system', content: 'You are a concise assistant.' });
  const turns = 1 + (k % 3);
  for (let t = 0; t < turns; t++) {
    messages.push({ role: 'user', content: `Tell me about ${topic}, point ${t + 1} (sample ${k}).` });
    const words = 5 + ((k * 7 + t * 13) % 56);
    messages.push({ role: 'assistant', content: Array.from({ length: words }, (_, w) => `${topic.split(' ')[0]}${(w * 31 + k) % 97}`).join(' ') + '.' });
  }
  return JSON.stringify({ messages });
}

const tok = await loadNodeTokenizer('default');
const text = Array.from({ length: samples }, (_, k) => sample(k)).join('\n');
const t0 = performance.now();
const report = await runPreflight({ text, tok, settings: { strategy: { id: 'template-spans', options: {} }, compare, maxLength: MAX_LENGTH, fatal: [] } });
const seconds = (performance.now() - t0) / 1000;

console.log(`preflight bench: ${samples.toLocaleString('en-US')} samples (${(text.length / 1e6).toFixed(1)} MB), tokenizer ${tok.label}, template-spans${compare.length ? ` compared with ${compare.map((c) => c.id).join(', ')}` : ''}, max length ${MAX_LENGTH}`);
console.log(`  Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`);
console.log(`  tokens ${report.totals.tokens.toLocaleString('en-US')}, trained ${report.totals.trainedTokens.toLocaleString('en-US')}, findings ${JSON.stringify(Object.fromEntries(Object.entries(report.totals.findings).filter(([, n]) => n > 0)))}`);
console.log(`  total ${seconds.toFixed(1)} s, ${(samples / seconds).toFixed(0)} samples/s, ${((seconds * 1000) / samples).toFixed(2)} ms/sample`);
