// Shared steps for the playground's end-to-end tests.
import { expect, type Browser, type Page, type TestInfo } from '@playwright/test';

export interface Msg {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export const chat = (...messages: Msg[]) => JSON.stringify(messages, null, 2);

/** The short chat most tests paste: a system prompt, a question, a one-sentence answer. */
export const SIMPLE = chat(
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris is the capital of France.' },
);

/**
 * Load the app once so Vite's dev server has discovered and pre-bundled every dependency,
 * including those only the data worker imports: Vite's start-up scan does not follow
 * `new Worker(new URL(...))`, finds them on first use and then reloads the page, which would
 * land in the middle of a test.
 */
export async function warmUp(browser: Browser): Promise<void> {
  const page = await browser.newPage();
  await page.goto('/');
  await page.waitForLoadState('networkidle');
  await page.reload();
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('.app')).toHaveAttribute('data-busy', 'false', { timeout: 120_000 });
  await page.close();
}

/**
 * Open the app. Each test has its own browser context, so IndexedDB starts empty.
 * The dev server's HMR socket is answered by a silent stand-in: other engineers edit this
 * checkout while tests run, and a Vite full-page reload in mid-test would reset the page to its
 * saved input. The app itself opens no WebSocket.
 */
export async function openFresh(page: Page, url = '/'): Promise<void> {
  await page.routeWebSocket(/.*/, () => {});
  await page.goto(url);
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await idle(page);
}

/** Wait until the worker has answered the latest request. */
export async function idle(page: Page): Promise<void> {
  await expect(page.locator('.app')).toHaveAttribute('data-busy', 'false');
}

/** What src/ui/PasteEditor.tsx puts on the paste box's content element for tests. */
interface PasteProbe {
  pasteEditor: { text(): string; selection(): [number, number]; select(from: number, to: number): void };
}
/**
 * The paste box's whole text. It is a CodeMirror editor, not a form field (toHaveValue and
 * inputValue do not apply), and it renders only the lines in view, so the DOM's text is not all of it.
 */
export const pasteText = (page: Page): Promise<string> => page.getByTestId('paste-box').evaluate((el) => (el as unknown as PasteProbe).pasteEditor.text());
/** Waits until the paste box holds `text` (expect.poll, as toHaveValue does). */
export const expectPasteText = (page: Page, text: string, timeout?: number): Promise<void> => expect.poll(() => pasteText(page), { timeout }).toBe(text);
/** The paste box's selection, [from, to) in UTF-16 offsets. */
export const pasteSelection = (page: Page): Promise<[number, number]> => page.getByTestId('paste-box').evaluate((el) => (el as unknown as PasteProbe).pasteEditor.selection());
/** Puts the paste box's caret at `at` (as a user's click would). */
export const placeCaret = (page: Page, at: number): Promise<void> => page.getByTestId('paste-box').evaluate((el, i) => (el as unknown as PasteProbe).pasteEditor.select(i, i), at);

export async function paste(page: Page, text: string): Promise<void> {
  await page.getByTestId('paste-box').fill(text);
  await idle(page);
}

/**
 * Paste through the real clipboard (Ctrl+A, Ctrl+V), as a user does. For big inputs this is the
 * path to measure: Playwright's fill() types the text through the editor's insertText command,
 * which takes ~8 s for 1 MB in a bare textarea on this machine, a cost no user pays.
 */
export async function clipboardPaste(page: Page, text: string): Promise<void> {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  const box = page.getByTestId('paste-box');
  await box.focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Control+V');
}

/** Record the longest main-thread task (ms) from now on; read it with longestTask(). */
export async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __longest: number };
    w.__longest = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
    }).observe({ type: 'longtask', buffered: false });
  });
}

export async function longestTask(page: Page): Promise<number> {
  return Math.round(await page.evaluate(() => (window as unknown as { __longest: number }).__longest));
}

export async function pickTokenizer(page: Page, id: 'default' | 'llama3' | 'qwen3' | 'gemma3' | 'llama3_1' | 'deepseek_v3'): Promise<void> {
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

/** The settings as last written to IndexedDB (persist.ts: database sft-playground, store kv,
 *  record input-and-settings/v1): poll it before a reload, since a write is debounced. */
export async function savedSettings(page: Page): Promise<Record<string, unknown> | null> {
  return page.evaluate(
    () =>
      new Promise<Record<string, unknown> | null>((resolve) => {
        const open = indexedDB.open('sft-playground');
        open.onerror = () => resolve(null);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('kv')) return resolve(null);
          const get = db.transaction('kv').objectStore('kv').get('input-and-settings/v1');
          get.onsuccess = () => resolve(((get.result as { settings?: Record<string, unknown> } | undefined)?.settings) ?? null);
          get.onerror = () => resolve(null);
        };
      }),
  );
}
