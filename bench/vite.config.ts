import { defineConfig } from 'vite';

// Dev server for the benchmark page only (bench/index.html), started by bench/playwright.config.ts.
// No HMR: other engineers edit this checkout while a benchmark runs, and a reload would restart it.
// TF.js and jax-js are pre-bundled up front so Vite does not discover them mid-run and reload the page.
// The page is cross-origin isolated (COOP + COEP), as a site shipping jax-js would serve it: its
// Wasm backend needs SharedArrayBuffer to run on worker threads, and is single-threaded without.
export default defineConfig({
  server: {
    hmr: false,
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  },
  optimizeDeps: {
    entries: ['bench/index.html'],
    include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', '@jax-js/jax'],
  },
});
