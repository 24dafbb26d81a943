import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, MAX_LINE_ERRORS, jsonErrorAt, parseChatInput } from './parse';
import { visibleWhitespace } from './whitespace';
import type { Conversation, ParseResult } from './types';
import { findJsonError, lineColumn } from './jsonscan';

const CONV: Conversation = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: '4' },
];

function ok(r: ParseResult): Extract<ParseResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected success, got: ${r.error.message}`);
  return r;
}
function err(r: ParseResult) {
  if (r.ok) throw new Error(`expected an error, parsed as ${r.format}`);
  return r.error;
}

describe('parseChatInput: formats', () => {
  it('OpenAI array (pretty-printed, multi-line)', () => {
    const r = ok(parseChatInput(JSON.stringify(CONV, null, 2)));
    expect(r.format).toBe('openai-array');
    expect(r.samples).toEqual([CONV]);
  });
  it('object with messages', () => {
    const r = ok(parseChatInput(`  {"messages": ${JSON.stringify(CONV)}, "id": 7}`));
    expect(r.format).toBe('messages-object');
    expect(r.samples).toEqual([CONV]);
  });
  it('ShareGPT', () => {
    const text = JSON.stringify({
      conversations: [
        { from: 'system', value: 'You are terse.' },
        { from: 'human', value: 'What is 2+2?' },
        { from: 'gpt', value: '4' },
      ],
    });
    const r = ok(parseChatInput(text));
    expect(r.format).toBe('sharegpt');
    expect(r.samples).toEqual([CONV]);
  });
  it('JSONL mixing the three shapes, blank lines and CRLF', () => {
    const lines = [
      JSON.stringify(CONV),
      '',
      JSON.stringify({ messages: CONV.slice(1) }),
      JSON.stringify({ conversations: [{ from: 'human', value: 'hi' }, { from: 'gpt', value: 'hello' }] }),
    ];
    const r = ok(parseChatInput(lines.join('\r\n') + '\r\n'));
    expect(r.format).toBe('jsonl');
    expect(r.samples).toEqual([
      CONV,
      CONV.slice(1),
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
    ]);
    expect(r.formatLabel).toContain('3 samples');
  });
  it('role-prefixed text, case-insensitive, multi-line messages', () => {
    const text = 'system: You are terse.\nUSER:What is 2+2?\n\nAnd why?\nAssistant:   4\n\nBecause.\n';
    const r = ok(parseChatInput(text));
    expect(r.format).toBe('role-prefixed-text');
    expect(r.samples[0]).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is 2+2?\n\nAnd why?' },
      { role: 'assistant', content: '4\n\nBecause.' },
    ]);
  });
  it('a JSON array of samples is a dataset', () => {
    const r = ok(parseChatInput(JSON.stringify([{ messages: CONV }, { messages: CONV.slice(1) }])));
    expect(r.format).toBe('messages-object');
    expect(r.samples.length).toBe(2);
  });
  it('OpenAI text parts are joined; "developer" stays a developer message', () => {
    const r = ok(
      parseChatInput(
        JSON.stringify([
          { role: 'developer', content: 'Be kind.' },
          { role: 'user', content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }] },
        ]),
      ),
    );
    expect(r.samples[0]).toEqual([
      { role: 'developer', content: 'Be kind.' },
      { role: 'user', content: 'Hello' },
    ]);
  });
});

describe('parseChatInput: errors', () => {
  it('empty paste', () => {
    expect(err(parseChatInput(' \n\t ')).message).toMatch(/^Nothing to parse: the input is empty/);
  });
  it('missing comma: line and column of the engine position', () => {
    const text = '[\n  {"role": "user", "content": "hi"}\n  {"role": "assistant", "content": "yo"}\n]';
    const e = err(parseChatInput(text));
    expect(e.line).toBe(3);
    expect(e.column).toBe(3);
    expect(e.message).toMatch(/^Invalid JSON at line 3, column 3: Expected ',' or ']'/);
  });
  it('misspelled literal (V8 gives no position): our scan finds it', () => {
    const text = '{"messages": [\n {"role": "user", "content": tru}\n]}';
    const e = err(parseChatInput(text));
    expect(e.line).toBe(2);
    expect(e.column).toBe(33);
    expect(e.message).toMatch(/did you mean true/);
  });
  it('trailing comma', () => {
    const e = err(parseChatInput('[{"role": "user", "content": "hi"},\n]'));
    expect([e.line, e.column]).toEqual([2, 1]);
    expect(e.message).toMatch(/Trailing comma/);
  });
  it('unterminated JSON', () => {
    const e = err(parseChatInput('[{"role": "user", "content": "hi"}'));
    expect([e.line, e.column]).toEqual([1, 35]);
  });
  it('unknown role names the message index and where it is', () => {
    const text = '[\n {"role": "user", "content": "hi"},\n {"role": "bot", "content": "42"}\n]';
    const e = err(parseChatInput(text));
    expect(e.message).toMatch(/^Message 1 has unknown role "bot"; expected "system", "developer", "user", "assistant" or "tool"/);
    expect([e.line, e.column]).toEqual([3, 11]);
  });
  it('unknown ShareGPT from', () => {
    const e = err(parseChatInput('{"conversations": [{"from": "bot", "value": "x"}]}'));
    expect(e.message).toMatch(/Message 0 has unknown "from" value "bot"/);
  });
  it('empty message', () => {
    const e = err(parseChatInput('[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]'));
    expect(e.message).toMatch(/^Message 1 \(assistant\) is empty/);
    expect(e.line).toBe(1);
  });
  it('JSONL: a broken line is named by its 1-based line and column; the other lines stay samples', () => {
    const text = [JSON.stringify(CONV), '', JSON.stringify(CONV), '[{"role": "user" "content": "x"}]'].join('\n');
    const r = parseChatInput(text);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.samples).toHaveLength(2);
    expect(r.sampleLines).toEqual([1, 3]);
    expect(r.lineErrors).toMatchObject({ total: 1, lines: 3 });
    const e = r.lineErrors!.errors[0];
    expect(e).toMatchObject({ line: 4, column: 18 });
    expect(e.message).toMatch(/^Line 4, column 18: Invalid JSON: /);
    expect(e.message).not.toMatch(/sample/);
  });
  it('JSONL: unknown role names the line and column', () => {
    const text = [JSON.stringify(CONV), JSON.stringify([{ role: 'user', content: 'a' }, { role: 'bot', content: 'b' }])].join('\n');
    const r = parseChatInput(text);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.lineErrors!.errors[0]).toMatchObject({ line: 2 });
    expect(r.lineErrors!.errors[0].message).toMatch(/^Line 2: Message 1 has unknown role "bot".*\(column \d+\)$/);
    expect(r.sampleLines).toBeNull();
  });
  it('JSONL: empty message', () => {
    const text = [JSON.stringify(CONV), JSON.stringify({ messages: [{ role: 'user', content: '' }] })].join('\n');
    const r = parseChatInput(text);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.lineErrors!.errors[0]).toMatchObject({ line: 2 });
    expect(r.lineErrors!.errors[0].message).toMatch(/^Line 2: Message 0 \(user\) is empty/);
  });
  it('JSONL: every broken line is reported, the first MAX_LINE_ERRORS listed and the rest counted', () => {
    const lines = [JSON.stringify(CONV), ...Array.from({ length: MAX_LINE_ERRORS + 5 }, (_, k) => (k % 2 ? '{"messages": [}' : '[1]'))];
    const r = parseChatInput(lines.join('\n'));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.samples).toHaveLength(1);
    expect(r.lineErrors!.total).toBe(MAX_LINE_ERRORS + 5);
    expect(r.lineErrors!.errors.map((e) => e.line)).toEqual(Array.from({ length: MAX_LINE_ERRORS }, (_, k) => k + 2));
    expect(r.formatLabel).toMatch(/25 broken lines left out/);
  });
  it('JSONL: no usable line at all is an error that still lists every line', () => {
    const r = parseChatInput('{"messages": [}\n{"messages": []}\n{"conversations": [{"from": "constructor", "value": "x"}]}');
    const e = err(r);
    expect(e.message).toMatch(/^None of the 3 JSONL lines is a usable sample/);
    expect(e).toMatchObject({ line: 1, column: 15 });
    if (r.ok) return;
    expect(r.lineErrors!.errors.map((x) => x.line)).toEqual([1, 2, 3]);
    expect(r.lineErrors!.errors[2].message).toMatch(/unknown "from" value "constructor"/);
  });
  it('role names that are Object.prototype keys are unknown roles, in every format', () => {
    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      const openai = err(parseChatInput(JSON.stringify([{ role, content: 'hi' }])));
      expect(openai.message).toContain(`unknown role "${role}"`);
      const sharegpt = err(parseChatInput(JSON.stringify({ conversations: [{ from: role, value: 'hi' }] })));
      expect(sharegpt.message).toContain(`unknown "from" value "${role}"`);
    }
    // A "__proto__" key in the JSON is an own key: it does not make an object a sample.
    expect(err(parseChatInput('{"__proto__": {"messages": []}}')).message).toMatch(/no "messages" or "conversations" field \(its keys: "__proto__"\)/);
  });
  it(`JSON nested deeper than ${MAX_JSON_DEPTH} levels is refused with the place, valid or not`, () => {
    const valid = '['.repeat(5000) + ']'.repeat(5000);
    const e = err(parseChatInput(valid));
    expect(e).toMatchObject({ line: 1, column: MAX_JSON_DEPTH + 1 });
    expect(e.message).toMatch(new RegExp(`^The JSON is nested more than ${MAX_JSON_DEPTH} levels deep at line 1, column ${MAX_JSON_DEPTH + 1}`));
    const unclosed = '{"messages":\n' + '['.repeat(5000);
    expect(err(parseChatInput(unclosed))).toMatchObject({ line: 2, column: MAX_JSON_DEPTH });
    // Exactly at the limit is fine for the depth check (and then is simply not a conversation).
    expect(err(parseChatInput('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).message).not.toMatch(/levels deep/);
    // In JSONL the deep line is one broken line.
    const r = parseChatInput([JSON.stringify(CONV), '['.repeat(3000)].join('\n'));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.lineErrors!.errors[0].message).toMatch(new RegExp(`^Line 2, column ${MAX_JSON_DEPTH + 1}: The JSON is nested more than`));
  });
  it('a leading UTF-8 byte-order mark is removed and the format label says so', () => {
    const r = parseChatInput('\uFEFF' + JSON.stringify(CONV));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.samples).toEqual([CONV]);
    expect(r.formatLabel).toBe('OpenAI messages array · UTF-8 byte-order mark removed');
    // Columns on line 1 count the mark, as the paste box does.
    const e = err(parseChatInput('\uFEFF[{"role": "user" "content": "x"}]'));
    expect(e).toMatchObject({ line: 1, column: 19 });
    expect(e.message).toContain('line 1, column 19');
    expect(err(parseChatInput('\uFEFFUser: hi\nAssistant:'))).toMatchObject({ line: 2, column: 1 });
    const text = parseChatInput('\uFEFFUser: hi\nAssistant: hello');
    expect(text.ok && text.samples[0]).toEqual([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }]);
    // An invisible character is named, never quoted bare.
    expect(err(parseChatInput('[\u200B]')).message).toContain('U+200B');
  });
  it('a bare JSON value is not a conversation', () => {
    expect(err(parseChatInput('42')).message).toMatch(/^Expected a conversation but found a number \(line 1, column 1\)/);
    expect(err(parseChatInput(' "hi"')).message).toMatch(/found a string/);
    expect(err(parseChatInput('null')).message).toMatch(/found null/);
    expect(err(parseChatInput('true')).message).toMatch(/found a boolean/);
    expect(err(parseChatInput('no roles here')).message).toMatch(/does not start with a role/);
  });
  it('plain text without role prefixes', () => {
    const e = err(parseChatInput('\nhello there\nUser: hi'));
    expect(e).toMatchObject({ line: 2, column: 1 });
    expect(e.message).toMatch(/^Line 2 does not start with a role/);
  });
  it('plain text with an empty message', () => {
    const e = err(parseChatInput('User: hi\nAssistant:\n\nUser: again'));
    expect(e).toMatchObject({ line: 2 });
    expect(e.message).toMatch(/^Message 1 \(assistant\) at line 2 is empty/);
  });
  it('unpaired surrogate (valid JSON escape, invalid text)', () => {
    const e = err(parseChatInput('[{"role": "user", "content": "ok \\ud83d"}]'));
    expect(e.message).toMatch(/^Message 0 \(user\) contains an unpaired surrogate \\ud83d at character 3/);
    expect(parseChatInput('[{"role": "user", "content": "ok \\ud83d\\ude00"}]').ok).toBe(true);
  });
  it('single message object and wrong shapes', () => {
    expect(err(parseChatInput('{"role": "user", "content": "hi"}')).message).toMatch(/single message/);
    expect(err(parseChatInput('{"text": "hi"}')).message).toMatch(/no "messages" or "conversations" field \(its keys: "text"\)/);
    expect(err(parseChatInput('[]')).message).toMatch(/empty/);
    expect(err(parseChatInput('[{"from": "human", "value": "x"}]')).message).toMatch(/ShareGPT/);
  });
});

describe('parseChatInput: fields beyond role and content', () => {
  const CALL = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } };
  const TOOL = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

  it('reasoning, tool calls, tool results and any other field are kept as the data has them; the top-level tools too', () => {
    const r = ok(
      parseChatInput(
        JSON.stringify({
          messages: [
            { role: 'user', content: 'Weather in Paris?' },
            { role: 'assistant', content: null, reasoning_content: 'Use the tool.', tool_calls: [CALL] },
            { role: 'tool', tool_call_id: 'call_1', name: 'get_weather', content: '18 C' },
            { role: 'assistant', thinking: 'Mild.', content: 'Sunny.', foo: { bar: [1] } },
          ],
          tools: [TOOL],
        }),
      ),
    );
    expect(r.samples[0]).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', noContent: 'null', fields: { reasoning_content: 'Use the tool.', tool_calls: [CALL] } },
      { role: 'tool', content: '18 C', fields: { tool_call_id: 'call_1', name: 'get_weather' } },
      { role: 'assistant', content: 'Sunny.', fields: { thinking: 'Mild.', foo: { bar: [1] } } },
    ]);
    expect(r.tools).toEqual([[TOOL]]);
  });

  it('tool result roles: "tool", and "ipython" / "function" given to the template under their own name', () => {
    const r = ok(parseChatInput(JSON.stringify([{ role: 'ipython', content: 'a' }, { role: 'Function', name: 'f', content: 'b' }, { role: 'TOOL', content: 'c' }])));
    expect(r.samples[0]).toEqual([
      { role: 'tool', content: 'a', templateRole: 'ipython' },
      { role: 'tool', content: 'b', templateRole: 'function', fields: { name: 'f' } },
      { role: 'tool', content: 'c' },
    ]);
  });

  it('an assistant message may have no content when it calls a tool or reasons; an absent key stays absent', () => {
    const r = ok(parseChatInput(JSON.stringify([{ role: 'user', content: 'Q' }, { role: 'assistant', tool_calls: [CALL] }, { role: 'assistant', content: '', thinking: 'T' }])));
    expect(r.samples[0][1]).toEqual({ role: 'assistant', content: '', noContent: 'absent', fields: { tool_calls: [CALL] } });
    expect(r.samples[0][2]).toEqual({ role: 'assistant', content: '', fields: { thinking: 'T' } });
    expect(r.tools).toBeNull();
  });

  it('still refused: no content and nothing else to say, reasoning that is not text, tool_calls that are not a list, tools that are not a list', () => {
    expect(err(parseChatInput('[{"role": "assistant", "tool_calls": []}]')).message).toMatch(/^Message 0 \(assistant\) has no "content" field/);
    expect(err(parseChatInput('[{"role": "user", "content": null, "thinking": "x"}]')).message).toMatch(/^Message 0 \(user\) content is null/);
    expect(err(parseChatInput('[{"role": "assistant", "content": "a", "thinking": 3}]')).message).toMatch(/^Message 0 \(assistant\) "thinking" is a number; expected the reasoning as a string/);
    const calls = err(parseChatInput('[\n{"role": "assistant", "content": "a", "tool_calls": {"name": "f"}}]'));
    expect(calls.message).toMatch(/^Message 0 \(assistant\) "tool_calls" is an object; expected an array/);
    expect([calls.line, calls.column]).toEqual([2, 53]);
    expect(err(parseChatInput('{"messages": [{"role": "user", "content": "a"}], "tools": 5}')).message).toMatch(/^"tools" is a number; expected an array of tool definitions/);
    expect(err(parseChatInput('{"messages": [{"role": "user", "content": "a"}], "tools": "[oops"}')).message).toMatch(/^"tools" is a string that is not JSON/);
  });

  it('tools written as a JSON string (LLaMA-Factory) are read; in JSONL each line keeps its own', () => {
    const line1 = JSON.stringify({ conversations: [{ from: 'human', value: 'Q' }, { from: 'gpt', value: 'A' }], tools: JSON.stringify([TOOL]) });
    const line2 = JSON.stringify({ messages: [{ role: 'user', content: 'Q' }] });
    const r = ok(parseChatInput(`${line1}\n${line2}`));
    expect(r.tools).toEqual([[TOOL], null]);
  });

  it('ShareGPT "function_call" turns (LLaMA-Factory) are assistant tool calls; a value that is not a call is refused', () => {
    const call = { name: 'get_weather', arguments: { city: 'Paris' } };
    const r = ok(parseChatInput(JSON.stringify({ conversations: [{ from: 'human', value: 'Q' }, { from: 'function_call', value: JSON.stringify(call) }, { from: 'observation', value: 'R' }, { from: 'gpt', value: 'A' }] })));
    expect(r.samples[0][1]).toEqual({ role: 'assistant', content: '', noContent: 'absent', fields: { tool_calls: [{ type: 'function', function: call }] } });
    const e = err(parseChatInput(JSON.stringify({ conversations: [{ from: 'human', value: 'Q' }, { from: 'function_call', value: 'get_weather(Paris)' }] })));
    expect(e.message).toMatch(/^Message 1 \(function_call\) "value" is not a call; expected JSON such as/);
  });
  it('ShareGPT "tool" and "observation" turns are tool results', () => {

    const r = ok(parseChatInput(JSON.stringify({ conversations: [{ from: 'human', value: 'Q' }, { from: 'observation', value: 'R' }, { from: 'tool', value: 'S' }] })));
    expect(r.samples[0].map((m) => m.role)).toEqual(['user', 'tool', 'tool']);
  });

  it('field names that are Object.prototype keys are own data fields; nothing is polluted', () => {
    const r = ok(parseChatInput('[{"role": "user", "content": "Hi", "__proto__": {"polluted": 1}, "constructor": "c", "toString": "t", "hasOwnProperty": 1}]'));
    const fields = r.samples[0][0].fields as Record<string, unknown>;
    expect(Object.keys(fields)).toEqual(['__proto__', 'constructor', 'toString', 'hasOwnProperty']);
    for (const k of Object.keys(fields)) expect(Object.hasOwn(fields, k)).toBe(true);
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(fields.__proto__).toEqual({ polluted: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A message whose only extra key is an inherited name has no fields.
    expect(ok(parseChatInput('[{"role": "user", "content": "Hi"}]')).samples[0][0].fields).toBeUndefined();
  });
});

describe('JSON error positions', () => {
  it('our scan agrees with V8 on every position V8 reports', () => {
    const broken = [
      '[{"a": 1} {"b": 2}]',
      '{"a": [1, 2,, 3]}',
      '{"a": "x\ny"}',
      '{"a": 1,}',
      '[1, 2',
      '{"a" 1}',
      "{'a': 1}",
      '[1] [2]',
      '{"a": -}',
      '{"a": "\\q"}',
      '{"a": "\\u12G4"}',
      '{"a": 01}',
      '{"a": 1.}',
      '{"a": 1e+}',
    ];
    for (const s of broken) {
      let v8: number | null = null;
      try {
        JSON.parse(s);
      } catch (e) {
        const m = /position (\d+)/.exec((e as Error).message);
        v8 = m ? Number(m[1]) : null;
      }
      const ours = findJsonError(s);
      expect(ours, s).not.toBeNull();
      if (v8 !== null) expect(ours?.offset, s).toBe(v8);
    }
    expect(findJsonError('{"ok": [1, 2.5e3, true, null, "\\u00e9"]}')).toBeNull();
  });
  it('reads every engine\'s message form: "position N", "line L column C", or none', () => {
    const text = '{\n  "a": 1\n  "b": 2\n}';
    // V8 (Node 20, Chrome): at position N
    expect(jsonErrorAt(text, new SyntaxError("Expected ',' or '}' after property value in JSON at position 13")).offset).toBe(13);
    // Firefox: line L column C of the JSON data
    const ff = jsonErrorAt(text, new SyntaxError("JSON.parse: expected ',' or '}' after property value in object at line 3 column 3 of the JSON data"));
    expect(ff.offset).toBe(13);
    // newer V8: "(line 3 column 3)"
    expect(jsonErrorAt(text, new SyntaxError("Expected ',' or '}' after property value in JSON at position 13 (line 3 column 3)")).offset).toBe(13);
    // Safari: no position at all → our scan
    const safari = jsonErrorAt(text, new SyntaxError("JSON Parse error: Expected '}'"));
    expect(safari.offset).toBe(13);
    expect(safari.message).toMatch(/missing comma/);
    expect(lineColumn(text, 13)).toEqual({ line: 3, column: 3 });
  });
  it('lineColumn is 1-based', () => {
    expect(lineColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});

describe('parseChatInput: speed', () => {
  it('parses a 1 MB paste of each kind well under a second', () => {
    const msg = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    const big: Conversation = [];
    while (JSON.stringify(big).length < 1_000_000) {
      big.push({ role: 'user', content: msg }, { role: 'assistant', content: msg });
    }
    const texts = [
      JSON.stringify(big),
      big.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`).join('\n'),
      Array.from({ length: 1000 }, () => JSON.stringify({ messages: big.slice(0, 2) })).join('\n'),
    ];
    for (const t of texts) {
      const t0 = performance.now();
      const r = parseChatInput(t);
      const ms = performance.now() - t0;
      expect(r.ok).toBe(true);
      expect(ms).toBeLessThan(300);
    }
  });
});

describe('visibleWhitespace', () => {
  it('marks space, newline, tab and CR one symbol per character', () => {
    expect(visibleWhitespace('a b\n\tc\r\n')).toBe('a␣b↵⇥c␍↵');
    expect(visibleWhitespace('👋 é')).toBe('👋␣é');
  });
});
