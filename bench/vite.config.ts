import { defineConfig } from 'vite';

// Dev server for the benchmark page only (bench/index.html), started by bench/playwright.config.ts.
// No HMR: other engineers edit this checkout while a benchmark runs, and a reload would restart it.
// TF.js is pre-bundled up front so Vite does not discover it mid-run and reload the page.
export default defineConfig({
  server: { hmr: false },
  optimizeDeps: {
    entries: ['bench/index.html'],
    include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu'],
  },
});
