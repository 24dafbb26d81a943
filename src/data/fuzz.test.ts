// Fuzz of the parser and the labeller with what a hostile paste can hold: arbitrary text and JSON,
// values nested thousands of levels deep, role names that are Object.prototype keys, any UTF-16
// (lone surrogates included), special-token text inside messages. Nothing may throw: the parser
// answers ok:false with a message for people, and every parsed sample tokenizes into labels that
// are each the token's id or -100.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadNodeTokenizer } from './testkit';
import { parseChatInput } from './parse';
import { tokenizeConversation } from './attribution';
import { DEFAULT_POLICY, IGNORE_INDEX, computeLabels } from './labels';
import type { ChatTokenizer, MaskPolicy, ParseResult } from './types';

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype);
const ROLES = ['system', 'user', 'assistant', 'developer', 'human', 'gpt', 'model', 'tool', ''];

/** Any UTF-16 code unit sequence, lone surrogates included. */
const utf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), utf16, fc.string({ maxLength: 40 }));
const role = fc.oneof(fc.constantFrom(...PROTO_KEYS, ...ROLES), fc.constantFrom(...PROTO_KEYS).map((k) => k.toUpperCase()), anyText);
const specialish = fc.constantFrom('<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|eot_id|>', '<|pad|>', '<think>');
const content = fc.oneof(
  anyText,
  fc.tuple(anyText, specialish, anyText).map(([a, s, b]) => a + s + b),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(undefined),
);
const message = fc.oneof(
  fc.record({ role, content }, { requiredKeys: [] }),
  fc.record({ from: role, value: content }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 2 }),
);
const sample = fc.oneof(
  fc.array(message, { maxLength: 5 }),
  fc.array(message, { maxLength: 5 }).map((messages) => ({ messages })),
  fc.array(message, { maxLength: 5 }).map((conversations) => ({ conversations })),
  fc.dictionary(fc.constantFrom(...PROTO_KEYS, 'messages', 'conversations', 'role'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);
/** Nesting far past MAX_JSON_DEPTH, closed or not, plain or inside a sample. */
const deep = fc
  .tuple(fc.integer({ min: 1, max: 6000 }), fc.constantFrom('[', '{"a":', '[{"role":"user","content":'), fc.boolean())
  .map(([n, open, closed]) => {
    const close = open === '[' ? ']' : '}';
    return open.repeat(n) + (closed ? '1' + close.repeat(n) : '');
  });
const jsonl = fc
  .array(fc.oneof(sample.map((s) => JSON.stringify(s)), anyText, deep, fc.constant('')), { minLength: 2, maxLength: 6 })
  .map((lines) => lines.join('\n'));
/** Conversations that parse (known roles, text content) but whose text is hostile. */
const goodRole = fc.constantFrom('system', 'user', 'assistant');
const goodContent = fc.oneof(anyText, fc.tuple(anyText, specialish, anyText).map(([a, s, b]) => a + s + b)).map((t) => `x${t}`);
/** Fields beyond role and content: the ones templates read, prototype keys, anything. */
const extraKey = fc.constantFrom(...PROTO_KEYS, 'thinking', 'reasoning_content', 'tool_calls', 'tool_call_id', 'name', 'foo');
const extraValue = fc.oneof(
  { arbitrary: goodContent, weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
  { arbitrary: fc.constant([{ type: 'function', function: { name: 'f', arguments: { a: 1 } } }]), weight: 1 },
);
const withFields = fc
  .array(
    fc.record({
      role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'ipython', 'function'),
      content: fc.oneof({ arbitrary: goodContent, weight: 5 }, { arbitrary: fc.constant(null), weight: 1 }),
      extra: fc.dictionary(extraKey, extraValue, { maxKeys: 3 }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((ms) => JSON.stringify(ms.map(({ role, content, extra }) => ({ ...extra, role, content }))));
const parsable = fc.oneof(
  fc.array(fc.record({ role: goodRole, content: goodContent }), { minLength: 1, maxLength: 5 }).map((m) => JSON.stringify(m)),
  withFields,
  fc
    .array(fc.array(fc.record({ from: fc.constantFrom('human', 'gpt', 'system'), value: goodContent }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 })
    .map((ss) => ss.map((conversations) => JSON.stringify({ conversations })).join('\n')),
  fc.array(fc.tuple(fc.constantFrom('User:', 'Assistant:', 'System:'), goodContent), { minLength: 1, maxLength: 4 }).map((ls) => ls.map(([p, t]) => `${p} ${t}`).join('\n')),
);
const hostile = fc.oneof(
  { arbitrary: parsable, weight: 8 },
  anyText,
  fc.jsonValue().map((v) => JSON.stringify(v)),
  sample.map((s) => JSON.stringify(s, null, 2)),
  deep,
  jsonl,
  fc.tuple(fc.constant('\uFEFF'), sample).map(([bom, s]) => bom + JSON.stringify(s)),
  fc.array(fc.tuple(fc.constantFrom('User:', 'Assistant:', 'System:', 'constructor:', ''), anyText), { maxLength: 4 }).map((ls) => ls.map(([p, t]) => `${p} ${t}`).join('\n')),
);

/** A message for people: never a leaked internal ("undefined", "[object Object]", a stack overflow). */
function expectReadable(message: string): void {
  expect(message.length).toBeGreaterThan(10);
  expect(message).not.toMatch(/\bundefined\b|\[object |Maximum call stack|Cannot read properties|is not a function/);
}

function checkParsed(r: ParseResult): void {
  if (!r.ok) {
    expectReadable(r.error.message);
    for (const e of r.lineErrors?.errors ?? []) expectReadable(e.message);
    return;
  }
  expect(r.samples.length).toBeGreaterThan(0);
  for (const conv of r.samples) {
    expect(conv.length).toBeGreaterThan(0);
    for (const m of conv) {
      expect(['system', 'developer', 'user', 'assistant', 'tool']).toContain(m.role);
      expect(typeof m.content).toBe('string');
    }
  }
  for (const e of r.lineErrors?.errors ?? []) expectReadable(e.message);
}

let tok: ChatTokenizer;
beforeAll(async () => {
  tok = await loadNodeTokenizer('default');
});

const FULL: MaskPolicy = { ...DEFAULT_POLICY, mode: 'full', roles: { system: true, user: true, assistant: true, template: true }, promptLossWeight: 0 };

describe('fuzz: parser and labeller', () => {
  it('the parser never throws, and answers a message or well-formed samples', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        checkParsed(parseChatInput(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('every parsed sample labels: each label is the token id or -100, with either special-token encoding', () => {
    let labelled = 0;
    fc.assert(
      fc.property(hostile, fc.boolean(), fc.boolean(), (text, split, full) => {
        const r = parseChatInput(text);
        if (!r.ok) return;
        labelled++;
        for (const conv of r.samples.slice(0, 2)) {
          const s = tokenizeConversation(tok, conv, { splitSpecialTokens: split });
          expect(s.tokens.map((t) => t.text).join('')).toBe(s.rendered);
          const lr = computeLabels(s, full ? FULL : DEFAULT_POLICY);
          s.tokens.forEach((t, i) => {
            if (lr.labels[i] !== IGNORE_INDEX) expect(lr.labels[i]).toBe(t.id);
          });
          if (split) expect(s.tokens.some((t) => t.typedSpecial)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
    console.log(`fuzz: ${labelled} of 300 inputs parsed and were labelled`);
    expect(labelled).toBeGreaterThan(100);
  });
});
