// Shared steps for the playground's end-to-end tests.
import { expect, type Page, type TestInfo } from '@playwright/test';

export interface Msg {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export const chat = (...messages: Msg[]) => JSON.stringify(messages, null, 2);

/** Open the app on a clean slate (no saved input from an earlier test). */
export async function openFresh(page: Page): Promise<void> {
  await page.goto('/');
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const req = indexedDB.deleteDatabase('sft-playground');
        req.onsuccess = () => resolve();
        req.onerror = () => reject(req.error);
        req.onblocked = () => resolve();
      }),
  );
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
}

/** Wait until the worker has answered the latest request. */
export async function idle(page: Page): Promise<void> {
  await expect(page.locator('.app')).toHaveAttribute('data-busy', 'false');
}

export async function paste(page: Page, text: string): Promise<void> {
  await page.getByTestId('paste-box').fill(text);
  await idle(page);
}

export async function pickTokenizer(page: Page, id: 'default' | 'llama3' | 'qwen3'): Promise<void> {
  await page.getByTestId('tokenizer').selectOption(id);
  await idle(page);
}

export interface Chip {
  index: number;
  id: number;
  label: number;
  role: string;
  weight: number;
  text: string;
  eot: boolean;
  straddles: boolean;
  beyondCut: boolean;
}

/** Every rendered chip, in order, read from its data-* attributes. */
export async function chips(page: Page): Promise<Chip[]> {
  return page.locator('[data-testid=token-list] .tok').evaluateAll((els) =>
    els.map((el) => {
      const d = (el as HTMLElement).dataset;
      return {
        index: Number(d.index),
        id: Number(d.tokenId),
        label: Number(d.label),
        role: d.role ?? '',
        weight: Number(d.weight),
        text: el.querySelector('.tok-text')?.textContent ?? '',
        eot: el.classList.contains('eot'),
        straddles: d.straddles === 'true',
        beyondCut: d.beyondCut === 'true',
      };
    }),
  );
}

export async function count(page: Page, testId: string): Promise<number> {
  const t = (await page.getByTestId(testId).textContent()) ?? '';
  return Number(t.replace(/[^\d]/g, ''));
}

/** Save a screenshot under test-results/screens/ and attach it to the report. */
export async function screen(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = `test-results/screens/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}
