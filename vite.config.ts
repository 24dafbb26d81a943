import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// One config for the app (vite) and the unit tests (vitest).
// GPU tests run in Node through the `webgpu` package (Dawn); on a machine without a
// Vulkan driver they point Dawn at Chromium's SwiftShader ICD (see src/gpu/node-device.ts).
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
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
