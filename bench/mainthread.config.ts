import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from '../playwright.config';

// `npm run bench:mainthread`: the app's dev server on its own port (BENCH_MAINTHREAD_PORT), one
// Chromium, bench/mainthread.spec.ts. It measures, it asserts nothing: results go to
// bench/mainthread.json (and the console); bench/mainthread.md quotes them.
// BENCH_BUILD=1 measures the production build instead (what users load: no React dev checks, no
// StrictMode double render), served by `vite preview` with the micro model copied next to it.
const PORT = Number(process.env.BENCH_MAINTHREAD_PORT ?? 4331);
const DIST = 'test-results/bench-mainthread-dist';
const serve = process.env.BENCH_BUILD
  ? `npx vite build --outDir ${DIST} --emptyOutDir && mkdir -p ${DIST}/e2e/fixtures && cp -r e2e/fixtures/micro-model ${DIST}/e2e/fixtures/ && npx vite preview --outDir ${DIST} --port ${PORT} --strictPort --host 127.0.0.1`
  : `npx vite --port ${PORT} --strictPort --host 127.0.0.1`;
export default defineConfig({
  testDir: '.',
  testMatch: 'mainthread.spec.ts',
  timeout: 20 * 60_000,
  expect: { timeout: 120_000 },
  workers: 1,
  reporter: [['list']],
  outputDir: '../test-results/bench-mainthread',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: CHROMIUM_LAUNCH,
  },
  webServer: {
    command: serve,
    cwd: '..',
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: false,
    timeout: 300_000,
  },
});
