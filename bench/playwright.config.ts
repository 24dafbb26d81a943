import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from '../playwright.config';

// `npm run bench`: serves bench/index.html with Vite and runs it in Debian's Chromium (WebGPU on
// whatever adapter Chromium offers: SwiftShader on a machine without a GPU). BENCH_SCALE=cpu|gpu
// overrides the sizes picked from the adapter; BENCH_ONLY=ours,jax (any of ours, tfjs, jax, jaxwasm)
// runs those sides; BENCH_MATMUL_SIZES=512,1024,2048 (or 0) the matmul micro-benchmark's sizes;
// BENCH_PORT the dev server's port (default 4329), for a second run beside another.
const PORT = Number(process.env.BENCH_PORT ?? 4329);
export default defineConfig({
  testDir: '.',
  testMatch: 'run.spec.ts',
  timeout: Number(process.env.BENCH_TIMEOUT_MS ?? 30 * 60_000),
  workers: 1,
  reporter: [['list']],
  outputDir: '../test-results/bench',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: {
      ...CHROMIUM_LAUNCH,
      args: [
        ...CHROMIUM_LAUNCH.args,
        '--enable-webgpu-developer-features', // un-quantised timestamp queries
        ...(process.env.BENCH_CHROMIUM_ARGS ? process.env.BENCH_CHROMIUM_ARGS.split(' ') : []),
      ],
    },
  },
  webServer: {
    command: `npx vite --config bench/vite.config.ts --port ${PORT} --strictPort --host 127.0.0.1`,
    cwd: '..',
    url: `http://127.0.0.1:${PORT}/bench/index.html`,
    reuseExistingServer: false,
    timeout: 120_000,
  },
});
