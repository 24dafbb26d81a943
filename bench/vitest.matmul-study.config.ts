// `npx vitest run --config bench/vitest.matmul-study.config.ts`: the matmul study (STUDY_FILE picks another file, e.g. bench/matmul-study-shapes.bench.test.ts)
// (bench/matmul-study.bench.test.ts, bench/matmul-study.md) with the unit tests' Dawn environment.
import { fileURLToPath } from 'node:url';
import base from '../vite.config';

export default {
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...base.test, include: [process.env.STUDY_FILE ?? 'bench/matmul-study.bench.test.ts'], testTimeout: 60 * 60_000 },
};
