// A tool-use chat (OpenAI messages with tool_calls, a tool result and a top-level "tools" array)
// with the Qwen3 tokenizer, whose template renders tools: the tool result chips are masked (-100)
// and the tool call chips trained by default, and the two switches in the settings flip each.
import { expect, test } from '@playwright/test';
import { chips, idle, openFresh, paste, pickTokenizer, screen, warmUp } from './helpers';

const TOOL_CHAT = JSON.stringify(
  {
    messages: [
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '18 C and sunny' },
      { role: 'assistant', content: 'It is 18 C and sunny in Paris.' },
    ],
    tools: [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      },
    ],
  },
  null,
  2,
);
/** Chips show newlines and spaces as ↵ and ␣. */
const shown = (s: string) => s.replace(/\n/g, '↵').replace(/ /g, '␣');
const CALL = shown('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>');

test.beforeAll(async ({ browser }) => {
  await warmUp(browser);
});

test('tool use (Qwen3): tool result chips are -100, tool call chips trained; each switch flips its own', async ({ page }, testInfo) => {
  await openFresh(page);
  await pickTokenizer(page, 'qwen3');
  await paste(page, TOOL_CHAT);
  let all = await chips(page);
  const call = all.filter((c) => c.role === 'tool_call');
  const result = all.filter((c) => c.role === 'tool');
  expect(call.map((c) => c.text).join('')).toBe(CALL);
  expect(result.map((c) => c.text).join('')).toBe(shown('18 C and sunny'));
  for (const c of call) expect(c.label, c.text).toBe(c.id);
  for (const c of result) expect(c.label, c.text).toBe(-100);
  // The tools reached the template: its tool preamble is there, as template markup.
  expect(all.filter((c) => c.role === 'template').map((c) => c.text).join('')).toContain('<tools>');
  await screen(page, testInfo, 'tool-use-qwen3');

  await page.getByLabel('Train tool results').check();
  await idle(page);
  all = await chips(page);
  for (const c of all.filter((x) => x.role === 'tool')) expect(c.label, c.text).toBe(c.id);

  await page.getByLabel('Train tool calls').uncheck();
  await idle(page);
  all = await chips(page);
  for (const c of all.filter((x) => x.role === 'tool_call')) expect(c.label, c.text).toBe(-100);
  // The final answer still trains.
  expect(all.filter((c) => c.role === 'assistant' && c.label !== -100).map((c) => c.text).join('')).toContain(shown('It is 18 C and sunny in Paris.'));
});

test("training uses each run's tool switches: a run that trains tool results trains what the view shows with them on", async ({ page }) => {
  await openFresh(page, '/?model=/e2e/fixtures/micro-model/');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await paste(
    page,
    JSON.stringify([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ type: 'function', function: { name: 'w', arguments: {} } }] },
      { role: 'tool', content: 'sunny' },
      { role: 'assistant', content: 'Sunny.' },
    ]),
  );
  // What the view trains: labels that are not -100 inside the cut, from position 1 (position 0 predicts nothing).
  const viewTrained = async () => (await chips(page)).filter((c) => c.index >= 1 && !c.beyondCut && c.label !== -100).length;
  const without = await viewTrained();
  await page.getByLabel('Train tool results').check();
  await idle(page);
  const withResults = await viewTrained();
  expect(withResults).toBeGreaterThan(without);

  const runA = page.getByTestId('run-card-0');
  await runA.getByLabel('tool results').check();
  for (const [key, value] of [['steps', 1], ['batchSize', 1]] as const) {
    await page.getByTestId(`opt-${key}`).fill(String(value));
    await page.getByTestId(`opt-${key}`).press('Enter');
  }
  await page.getByTestId('train').click();
  await expect.poll(async () => page.getByTestId('train-panel').getAttribute('data-phase'), { timeout: 120_000 }).toBe('done');
  expect(Number(await page.getByTestId('run-row-0').getAttribute('data-trained'))).toBe(withResults);
});
