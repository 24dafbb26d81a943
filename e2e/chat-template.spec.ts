// A model whose chat template is in chat_template.jinja (as transformers has saved it since 2024),
// not in tokenizer_config.json: the token view renders with it. huggingface.co is stood in for by
// a route serving e2e/fixtures/tiny-hf-model/ with the config's own template removed, a
// chat_template.jinja, and a chat_template.json that the jinja file must win over.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { chips, idle, openFresh, paste, SIMPLE, warmUp } from './helpers';

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

const JINJA = "{% for message in messages %}<|im_start|>{{ message['role'] }} FROM JINJA\n{{ message['content'] }}<|im_end|>\n{% endfor %}";
const JSON_TEMPLATE = "{% for message in messages %}<|im_start|>{{ message['role'] }} FROM JSON\n{{ message['content'] }}<|im_end|>\n{% endfor %}";

test('the token view renders with chat_template.jinja over chat_template.json and a config without chat_template', async ({ page }) => {
  const config = JSON.parse(readFileSync('./e2e/fixtures/tiny-hf-model/tokenizer_config.json', 'utf8')) as Record<string, unknown>;
  delete config.chat_template;
  const files: Record<string, Buffer> = {
    'tokenizer_config.json': Buffer.from(JSON.stringify(config)),
    'chat_template.jinja': Buffer.from(JINJA),
    'chat_template.json': Buffer.from(JSON.stringify({ chat_template: JSON_TEMPLATE })),
  };
  const hub = /^https:\/\/huggingface\.co\/test-org\/jinja-chat\/resolve\/main\/([\w.-]+)$/;
  await page.context().route('https://huggingface.co/**', async (route) => {
    const file = hub.exec(route.request().url())?.[1];
    const headers = { 'access-control-allow-origin': '*' };
    let body: Buffer | null = file ? (files[file] ?? null) : null;
    if (file && !body) {
      try {
        body = readFileSync(`./e2e/fixtures/tiny-hf-model/${file}`);
      } catch {
        body = null;
      }
    }
    await route.fulfill(body ? { status: 200, body, headers: { ...headers, 'content-length': String(body.length) } } : { status: 404, body: 'Entry not found', headers });
  });
  await openFresh(page, '/?model=test-org/jinja-chat');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await paste(page, SIMPLE);
  await idle(page);
  // Chips show a space as ␣ and a newline as ↵.
  const shown = (t: string) => t.replaceAll('␣', ' ').replaceAll('↵', '\n');
  const text = shown((await chips(page)).map((c) => c.text).join(''));
  expect(text).toContain('<|im_start|>user FROM JINJA\nWhat is the capital of France?<|im_end|>');
  expect(text).not.toContain('FROM JSON');
  const assistant = shown((await chips(page)).filter((c) => c.role === 'assistant').map((c) => c.text).join(''));
  expect(assistant).toBe('Paris is the capital of France.<|im_end|>');
});
