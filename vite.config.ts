import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { existsSync } from 'node:fs';

// Dawn (the `webgpu` package) finds no Vulkan driver on a GPU-less machine. Chromium ships
// SwiftShader and its own libvulkan; point Dawn at them. Set here so the forked test workers
// inherit it at exec time (dlopen reads LD_LIBRARY_PATH only at process start).
const CHROMIUM_LIB = '/usr/lib/chromium';
if (existsSync(`${CHROMIUM_LIB}/vk_swiftshader_icd.json`) && !process.env.PLAYGROUND_REAL_GPU) {
  process.env.VK_ICD_FILENAMES ??= `${CHROMIUM_LIB}/vk_swiftshader_icd.json`;
  process.env.LD_LIBRARY_PATH = [process.env.LD_LIBRARY_PATH, CHROMIUM_LIB].filter(Boolean).join(':');
}

// One config for the app (vite) and the unit tests (vitest).
// GPU tests run in Node through the `webgpu` package (Dawn); on a machine without a
// Vulkan driver they point Dawn at Chromium's SwiftShader ICD (see src/gpu/node-device.ts).
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  // The data worker is the only importer of transformers.js; pre-bundle it so the dev server
  // does not reload the page the first time the worker asks for it.
  optimizeDeps: { include: ['@huggingface/transformers'] },
  build: { target: 'es2022' },
  test: {
    include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // GPU tests share one Dawn instance per file; files run one at a time to keep 2 cores sane.
    fileParallelism: false,
  },
});
