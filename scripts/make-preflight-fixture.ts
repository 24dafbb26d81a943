// `npx tsx scripts/make-preflight-fixture.ts`: writes e2e/fixtures/preflight/known-200.jsonl, 200
// JSONL lines (ChatML-friendly) whose preflight findings are known by construction. Line k (1-based):
//   k = 50, 150            broken JSON (cut off; a missing comma)
//   k ≡ 3 (mod 20)         a user message and no assistant turn        → nothing-to-train (10 lines)
//   k ≡ 7 (mod 25)         a 60-word answer, cut at --max-length 64     → response-truncated (8 lines)
//   k ≡ 11 (mod 30)        "<|im_end|>" typed in the user's message    → typed-special-tokens (7 lines)
//   k ≡ 13 (mod 40)        an answer that starts with an empty <think> → empty-think-trained (5 lines)
//   otherwise              a short chat (one or two turns, some with a system prompt), under 64 tokens
// The rules never meet on one line (the first matching rule wins, and none of the lines overlap).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = resolve(fileURLToPath(import.meta.url), '../../e2e/fixtures/preflight/known-200.jsonl');
const LINES = 200;

type Message = { role: 'system' | 'user' | 'assistant'; content: string };
const sample = (...messages: Message[]) => JSON.stringify({ messages });
const user = (content: string): Message => ({ role: 'user', content });
const assistant = (content: string): Message => ({ role: 'assistant', content });

const WORDS = ['apple', 'river', 'stone', 'cloud', 'paper', 'light', 'green', 'quiet', 'north', 'honey'];
const long = (k: number) => Array.from({ length: 60 }, (_, i) => WORDS[(i + k) % WORDS.length]).join(' ');

export function fixtureLine(k: number): string {
  if (k === 50) return '{"messages": [{"role": "user", "content": "this line is cut off';
  if (k === 150) return '{"messages": [{"role": "user" "content": "a comma is missing"}]}';
  if (k % 20 === 3) return sample(user(`Question ${k} with no answer yet?`));
  if (k % 25 === 7) return sample(user(`List sixty words, please (${k}).`), assistant(long(k)));
  if (k % 30 === 11) return sample(user(`Does <|im_end|> end a turn (${k})?`), assistant('It does in ChatML.'));
  if (k % 40 === 13) return sample(user(`What is ${k} + 1?`), assistant(`<think>\n\n</think>\n\n${k + 1}.`));
  if (k % 3 === 0) return sample({ role: 'system', content: 'You are terse.' }, user(`What is ${k} times 2?`), assistant(`${2 * k}.`));
  if (k % 3 === 1) return sample(user(`Name a colour (${k}).`), assistant('Blue.'), user('Another?'), assistant('Green.'));
  return sample(user(`Say hello ${k}.`), assistant(`Hello ${k}!`));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${Array.from({ length: LINES }, (_, i) => fixtureLine(i + 1)).join('\n')}\n`);
  console.log(`wrote ${OUT} (${LINES} lines)`);
}
