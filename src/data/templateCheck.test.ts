import { describe, expect, it } from 'vitest';
import { renderProblem, syntaxProblem } from './templateCheck';
import { Template } from '@huggingface/jinja';

const CHATML = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

describe('template problems in line and column', () => {
  it('a good template has none', () => {
    expect(syntaxProblem(CHATML)).toBeNull();
  });
  it('a broken tag is found where it is', () => {
    const bad = "{% for message in messages %}\n{{ message['content'] }}\n{% if %}x{% endif %}\n{% endfor %}";
    expect(syntaxProblem(bad)).toMatchObject({ line: 3, column: 1 });
    const expr = "line one\nline two {{ a + }}\n";
    expect(syntaxProblem(expr)).toMatchObject({ line: 2, column: 10 });
  });
  it('an unclosed block points at its opener', () => {
    const p = syntaxProblem("hello\n  {% for m in messages %}{{ m.content }}\n");
    expect(p).toMatchObject({ line: 2, column: 3 });
    expect(p?.message).toMatch(/for .*never closed/);
  });
  it('an unclosed tag points at it', () => {
    expect(syntaxProblem('{{ messages[0].content }}\n{{ oops')).toMatchObject({ line: 2, column: 1 });
  });
  it('a render-time error points at the tag that uses the name', () => {
    const t = "{% for m in messages %}\n  {{ m.content | shout }}\n{% endfor %}";
    let message = '';
    try {
      new Template(t).render({ messages: [{ content: 'x' }] });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/shout/);
    expect(renderProblem(t, message)).toMatchObject({ line: 2, column: 3 });
  });
});
