// The import-direction checker (scripts/check-imports.mjs) on small synthetic trees in a temp dir.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeImports, checkImports, formatViolation, type Violation } from './check-imports.mjs';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'check-imports.mjs');
const base = mkdtempSync(join(tmpdir(), 'check-imports-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
/** Writes files (path relative to the root → content) into a fresh root and returns it. */
function tree(files: Record<string, string>): string {
  const root = join(base, `t${n++}`);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

/** The layers every tree has, so that imports resolve to real files. */
const LEAVES: Record<string, string> = {
  'src/spec/optimizer.ts': 'export const LR = 1;\n',
  'src/gpu/device.ts': "import { LR } from '../spec/optimizer';\nexport const device = LR;\nexport type Adapter = { name: string };\n",
  'src/reference/model.ts': 'export const refModel = 1;\n',
  'src/engine/trainer.ts': "import { device } from '../gpu/device';\nexport const engine = device;\n",
  'src/data/labels.ts': 'export const IGNORE = -100;\n',
  'src/worker/trainProtocol.ts': 'export type ToTrainer = { kind: string };\nexport const MAX = 3;\n',
  'src/worker/trainSession.ts': "import { engine } from '../engine/trainer';\nexport type StepEvent = { step: number };\nexport const s = engine;\n",
  'src/worker/train.worker.ts': "import { s } from './trainSession';\nvoid s;\n",
  'shaders/rope.wgsl': '// wgsl\n',
};

const pairs = (vs: Violation[]) => vs.map((v) => `${v.file}:${v.line} ${v.from}->${v.to} ${v.specifier}`);

describe('check-imports', () => {
  it('passes allowed imports (and does see them)', () => {
    const root = tree({
      ...LEAVES,
      'src/model/loader.ts': "import { engine } from '../engine/trainer';\nimport type { Adapter } from '../gpu/device';\nexport const m: Adapter | number = engine;\n",
      'src/engine/ops/rope.ts': "import shader from '../../../shaders/rope.wgsl?raw';\nimport { LR } from '../../spec/optimizer';\nexport const r = [shader, LR];\n",
      'src/ui/App.tsx': "import { MAX } from '../worker/trainProtocol';\nimport { IGNORE } from '../data/labels';\nexport const App = () => <p>{MAX + IGNORE}</p>;\n",
      'src/main.tsx': "import { App } from './ui/App';\nimport { refModel } from './reference/model';\nvoid [App, refModel];\n",
    });
    const result = analyzeImports(root);
    expect(result.violations).toEqual([]);
    // gpu→spec, engine→gpu, trainSession→engine, worker→trainSession, model→engine, model→gpu,
    // rope→shaders, rope→spec, ui→worker, ui→data, app→ui, app→reference
    expect(result.checked).toBe(12);
    expect(result.files).toBe(12);
    const rope = result.graph.find((g) => g.from === 'engine' && g.to === 'shaders');
    expect(rope?.imports).toBe(1);
  });

  it('fails engine→reference, and reference→engine', () => {
    const root = tree({
      ...LEAVES,
      'src/engine/layout.ts': "// engine\nimport { refModel } from '../reference/model';\nexport const l = refModel;\n",
      'src/reference/ops.ts': "import { engine } from '../engine/trainer';\nexport const o = engine;\n",
    });
    const vs = checkImports(root);
    expect(pairs(vs)).toEqual([
      'src/engine/layout.ts:2 engine->reference ../reference/model',
      'src/reference/ops.ts:1 reference->engine ../engine/trainer',
    ]);
    expect(vs[0].reason).toMatch(/engine and reference must not import each other/);
    expect(formatViolation(vs[0])).toBe(
      `src/engine/layout.ts:2: engine imports reference (../reference/model) — not allowed: ${vs[0].reason}`,
    );
  });

  it('fails lower layers importing upper ones (gpu→engine, data→store)', () => {
    const root = tree({
      ...LEAVES,
      'src/gpu/kernel.ts': "import { engine } from '../engine/trainer';\nexport const k = engine;\n",
      'src/store/store.ts': 'export const usePlayground = 1;\n',
      'src/data/parse.ts': "import { usePlayground } from '../store/store';\nexport const p = usePlayground;\n",
    });
    expect(pairs(checkImports(root))).toEqual([
      'src/data/parse.ts:1 data->store ../store/store',
      'src/gpu/kernel.ts:1 gpu->engine ../engine/trainer',
    ]);
  });

  it('fails store→gpu (and store→engine, store→reference)', () => {
    const root = tree({
      ...LEAVES,
      'src/store/train.ts':
        "import { device } from '../gpu/device';\nimport { engine } from '../engine/trainer';\nimport { refModel } from '../reference/model';\nimport { LR } from '../spec/optimizer';\nexport const t = [device, engine, refModel, LR];\n",
    });
    const vs = checkImports(root);
    expect(pairs(vs)).toEqual([
      'src/store/train.ts:1 store->gpu ../gpu/device',
      'src/store/train.ts:2 store->engine ../engine/trainer',
      'src/store/train.ts:3 store->reference ../reference/model',
    ]);
    for (const v of vs) expect(v.reason).toMatch(/store must not import gpu, engine or reference/);
  });

  it('fails store→worker/trainSession while store→worker/trainProtocol passes', () => {
    const root = tree({
      ...LEAVES,
      'src/store/curves.ts':
        "import type { ToTrainer } from '../worker/trainProtocol';\nimport { MAX } from '../worker/trainProtocol';\nimport type { StepEvent } from '../worker/trainSession';\nexport type C = [ToTrainer, StepEvent, typeof MAX];\n",
    });
    const result = analyzeImports(root);
    expect(pairs(result.violations)).toEqual(['src/store/curves.ts:3 store->worker ../worker/trainSession']);
    expect(result.violations[0].reason).toMatch(/only the protocol modules/);
    expect(result.graph.find((g) => g.from === 'store' && g.to === 'worker')).toMatchObject({ imports: 3, typeOnly: 2, notAllowed: 1 });
  });

  it('lets the store start a worker by URL, but not import the worker entry', () => {
    const root = tree({
      ...LEAVES,
      'src/store/train.ts':
        "export const w = () => new Worker(new URL('../worker/train.worker.ts', import.meta.url), { type: 'module' });\nimport '../worker/train.worker';\n",
      'src/ui/Panel.tsx': "export const u = new URL('../worker/train.worker.ts', import.meta.url);\n",
    });
    expect(pairs(checkImports(root))).toEqual([
      'src/store/train.ts:2 store->worker ../worker/train.worker',
      'src/ui/Panel.tsx:1 ui->worker ../worker/train.worker.ts',
    ]);
  });

  it('exempts test files, testkits, fixtures and reference/gradcheck.ts, fixture.ts (but only those)', () => {
    const bad = "import { device } from '../gpu/device';\nexport const x = device;\n";
    const deep = "import { device } from '../../gpu/device';\nexport const x = device;\n";
    const root = tree({
      ...LEAVES,
      'src/store/train.test.ts': bad,
      'src/store/Panel.test.tsx': bad,
      'src/store/testkit.ts': bad,
      'src/store/fixtures/state.ts': deep,
      'src/reference/gradcheck.ts': "import { engine } from '../engine/trainer';\nexport const g = engine;\n",
      'src/reference/fixture.ts': "import { engine } from '../engine/trainer';\nexport const f = engine;\n",
      // not exempt: same imports from ordinary files, and gradcheck.ts outside src/reference
      'src/store/train.ts': bad,
      'src/store/trainTest.ts': bad,
      'src/store/fixtures.ts': bad,
      'src/engine/gradcheck.ts': "import { refModel } from '../reference/model';\nexport const g = refModel;\n",
    });
    const result = analyzeImports(root);
    expect(pairs(result.violations)).toEqual([
      'src/engine/gradcheck.ts:1 engine->reference ../reference/model',
      'src/store/fixtures.ts:1 store->gpu ../gpu/device',
      'src/store/train.ts:1 store->gpu ../gpu/device',
      'src/store/trainTest.ts:1 store->gpu ../gpu/device',
    ]);
    expect(result.exemptFiles).toBe(6);
  });

  it('sees dynamic import() and new URL(..., import.meta.url)', () => {
    const root = tree({
      ...LEAVES,
      'src/engine/generation.ts':
        "export async function load() {\n  const { refModel } = await import('../reference/model');\n  return refModel;\n}\n",
      'src/store/assets.ts': "const a = 1;\nexport const kernel = new URL('../gpu/device.ts', import.meta.url);\nexport const page = new URL('../gpu/device.ts', 'https://example.com/');\n",
      'src/data/load.ts': 'export const t = (name: string) => new URL(`../reference/${name}.json`, import.meta.url);\n',
    });
    const vs = checkImports(root);
    expect(pairs(vs)).toEqual([
      'src/data/load.ts:1 data->reference ../reference/',
      'src/engine/generation.ts:2 engine->reference ../reference/model',
      'src/store/assets.ts:2 store->gpu ../gpu/device.ts',
    ]);
    expect(vs.map((v) => v.kind)).toEqual(['new URL', 'import()', 'new URL']);
  });

  it('checks import type, inline type imports, export from and type-level import() too', () => {
    const root = tree({
      ...LEAVES,
      'src/store/types.ts': [
        "import type { Adapter } from '../gpu/device';",
        "import { type Adapter as A2 } from '../gpu/device';",
        "export type { Adapter as A3 } from '../gpu/device';",
        "export * from '../engine/trainer';",
        "export type A4 = import('../gpu/device').Adapter;",
        'export type All = [Adapter, A2];',
        '',
      ].join('\n'),
    });
    const vs = checkImports(root);
    expect(pairs(vs)).toEqual([
      'src/store/types.ts:1 store->gpu ../gpu/device',
      'src/store/types.ts:2 store->gpu ../gpu/device',
      'src/store/types.ts:3 store->gpu ../gpu/device',
      'src/store/types.ts:4 store->engine ../engine/trainer',
      'src/store/types.ts:5 store->gpu ../gpu/device',
    ]);
    expect(vs.map((v) => v.typeOnly)).toEqual([true, true, true, false, true]);
  });

  it('ignores npm packages, comments and strings that only look like imports', () => {
    const root = tree({
      ...LEAVES,
      'src/store/store.ts': [
        "import { create } from 'zustand';",
        "// import { device } from '../gpu/device';",
        "/* new URL('../gpu/device.ts', import.meta.url) */",
        "export const s = \"import '../engine/trainer'\";",
        'export const c = create;',
        '',
      ].join('\n'),
    });
    const result = analyzeImports(root);
    expect(result.violations).toEqual([]);
    expect(result.packages).toBe(1);
    expect(result.graph.some((g) => g.from === 'store')).toBe(false);
  });

  it('flags imports of unknown layers and from folders not in the table', () => {
    const root = tree({
      ...LEAVES,
      'src/utils/math.ts': "import { LR } from '../spec/optimizer';\nexport const two = LR * 2;\n",
      'src/engine/memory.ts': "import { two } from '../utils/math';\nexport const m = new URL('../../public/models/base/config.json', import.meta.url);\nexport const t = two;\n",
      'src/main.tsx': "import { two } from './utils/math';\nvoid two;\n",
    });
    const vs = checkImports(root);
    expect(pairs(vs)).toEqual([
      'src/engine/memory.ts:1 engine->utils ../utils/math',
      'src/engine/memory.ts:2 engine->public/ (outside src) ../../public/models/base/config.json',
      'src/main.tsx:1 app->utils ./utils/math',
      'src/utils/math.ts:1 utils->spec ../spec/optimizer',
    ]);
    expect(vs[0].reason).toMatch(/unknown layer 'utils'/);
    expect(vs[3].reason).toMatch(/'utils' is not a layer in the table/);
  });

  it('allows shaders/ only from gpu and engine', () => {
    const wgsl = "import shader from '../../shaders/rope.wgsl?raw';\nexport const s = shader;\n";
    const root = tree({ ...LEAVES, 'src/gpu/k.ts': wgsl, 'src/engine/k.ts': wgsl, 'src/model/k.ts': wgsl, 'src/data/k.ts': wgsl });
    const vs = checkImports(root);
    expect(pairs(vs)).toEqual([
      'src/data/k.ts:1 data->shaders ../../shaders/rope.wgsl?raw',
      'src/model/k.ts:1 model->shaders ../../shaders/rope.wgsl?raw',
    ]);
    expect(vs[0].reason).toBe('only gpu and engine may import shaders/');
  });

  it('CLI: prints the violations and exits 1; prints a summary and exits 0 when clean; --graph', () => {
    const bad = tree({ ...LEAVES, 'src/store/train.ts': "\nimport type { Adapter } from '../gpu/device';\nexport type T = Adapter;\n" });
    const r1 = spawnSync(process.execPath, [SCRIPT, bad], { encoding: 'utf8' });
    expect(r1.status).toBe(1);
    expect(r1.stdout).toMatch(/^src\/store\/train\.ts:2: store imports gpu \(\.\.\/gpu\/device\) — not allowed: store must not import gpu/m);
    expect(r1.stdout).toMatch(/1 import\(s\) not allowed/);

    const good = tree(LEAVES);
    const r0 = spawnSync(process.execPath, [SCRIPT, good], { encoding: 'utf8' });
    expect(r0.status).toBe(0);
    expect(r0.stdout.trim().split('\n')).toEqual([
      'check-imports: ok: 8 files scanned (0 exempt), 4 local imports checked, 0 package imports ignored.',
    ]);

    const rg = spawnSync(process.execPath, [SCRIPT, '--graph', bad], { encoding: 'utf8' });
    expect(rg.status).toBe(0);
    expect(rg.stdout).toContain('| store | gpu | 1 | 1 | 1 |  |');
    expect(rg.stdout).toContain('| engine | gpu | 1 | 0 |  |  |');
  });
});
