// `npm run gpu-check`'s speed half (bench/gpucheck.test.ts), with the unit tests' Dawn environment
// (vite.config.ts: SwiftShader unless PLAYGROUND_REAL_GPU is set).
import { fileURLToPath } from 'node:url';
import base from '../vite.config';

export default {
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...base.test, include: ['bench/gpucheck.test.ts'], testTimeout: 60 * 60_000 },
};
