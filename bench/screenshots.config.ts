import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from '../playwright.config';

// `npm run screenshots`: the README's pictures, taken from the app on its dev server
// (bench/screenshots.spec.ts writes them to bench/screenshots/). It asserts only what it pictures.
const PORT = Number(process.env.SCREENSHOTS_PORT ?? 4333);
export default defineConfig({
  testDir: '.',
  testMatch: 'screenshots.spec.ts',
  timeout: 5 * 60_000,
  expect: { timeout: 60_000 },
  workers: 1,
  reporter: [['list']],
  outputDir: '../test-results/screenshots',
  use: { baseURL: `http://127.0.0.1:${PORT}`, launchOptions: CHROMIUM_LAUNCH, viewport: { width: 1280, height: 900 } },
  webServer: { command: `npx vite --port ${PORT} --strictPort --host 127.0.0.1`, cwd: '..', url: `http://127.0.0.1:${PORT}`, reuseExistingServer: false, timeout: 120_000 },
});
