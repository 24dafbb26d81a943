// `npm run bench:node`: the engine's benchmark in Node (bench/node.bench.test.ts), with the same
// Dawn environment as the unit tests (vite.config.ts points Dawn at SwiftShader unless
// PLAYGROUND_REAL_GPU is set).
import { fileURLToPath } from 'node:url';
import base from '../vite.config';

export default {
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  // BENCH_MODEL (a Hub-size model, bench/hub.ts) takes minutes per step on SwiftShader: 6 hours.
  test: { ...base.test, include: ['bench/node.bench.test.ts'], testTimeout: (process.env.BENCH_MODEL ? 6 * 60 : 60) * 60_000 },
};
