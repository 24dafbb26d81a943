// `npx vitest run --config bench/vitest.kernel-study.config.ts`: the kernel study
// (bench/kernel-study.bench.test.ts) with the unit tests' Dawn environment.
import { fileURLToPath } from 'node:url';
import base from '../vite.config';

export default {
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...base.test, include: ['bench/kernel-study.bench.test.ts'], testTimeout: 60 * 60_000 },
};
