// `npm run bench:node`: the engine's benchmark in Node (bench/node.bench.test.ts), with the same
// Dawn environment as the unit tests (vite.config.ts points Dawn at SwiftShader unless
// PLAYGROUND_REAL_GPU is set).
import { fileURLToPath } from 'node:url';
import base from '../vite.config';

export default {
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...base.test, include: ['bench/node.bench.test.ts'], testTimeout: 60 * 60_000 },
};
