// `npx vitest run --config bench/vitest.step-study.config.ts`: the training-step study
// (bench/step-study.bench.test.ts) with the unit tests' Dawn environment.
import { fileURLToPath } from 'node:url';
import base from '../vite.config';

export default {
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...base.test, include: ['bench/step-study.bench.test.ts'], testTimeout: 60 * 60_000 },
};
