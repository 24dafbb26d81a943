import { describe, expect, it } from 'vitest';
import { jsonErrorAt, parseChatInput } from './parse';
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
  it('OpenAI text parts are joined; "developer" is a system message', () => {
    const r = ok(
      parseChatInput(
        JSON.stringify([
          { role: 'developer', content: 'Be kind.' },
          { role: 'user', content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }] },
        ]),
      ),
    );
    expect(r.samples[0]).toEqual([
      { role: 'system', content: 'Be kind.' },
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
    const text = '[\n {"role": "user", "content": "hi"},\n {"role": "tool", "content": "42"}\n]';
    const e = err(parseChatInput(text));
    expect(e.message).toMatch(/^Message 1 has unknown role "tool"; expected "system", "user" or "assistant"/);
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
  it('JSONL: syntax error names the line, column and sample', () => {
    const text = [JSON.stringify(CONV), '', JSON.stringify(CONV), '[{"role": "user" "content": "x"}]'].join('\n');
    const e = err(parseChatInput(text));
    expect(e).toMatchObject({ line: 4, column: 18, sample: 2 });
    expect(e.message).toMatch(/^JSONL line 4 \(sample 2\): Invalid JSON at line 4, column 18/);
  });
  it('JSONL: unknown role names the line and sample', () => {
    const text = [JSON.stringify(CONV), JSON.stringify([{ role: 'user', content: 'a' }, { role: 'bot', content: 'b' }])].join('\n');
    const e = err(parseChatInput(text));
    expect(e).toMatchObject({ line: 2, sample: 1 });
    expect(e.message).toMatch(/^JSONL line 2 \(sample 1\): Message 1 has unknown role "bot"/);
  });
  it('JSONL: empty message', () => {
    const text = [JSON.stringify(CONV), JSON.stringify({ messages: [{ role: 'user', content: '' }] })].join('\n');
    const e = err(parseChatInput(text));
    expect(e).toMatchObject({ line: 2, sample: 1 });
    expect(e.message).toMatch(/Message 0 \(user\) is empty/);
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
