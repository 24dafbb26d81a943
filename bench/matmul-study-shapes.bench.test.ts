/**
 * Matmul study, part 2 (issue 15): the embedded model's products (forward, dx, dw at N = 128 tokens)
 * with matmul_direct4 before (4 x 4 outputs per invocation), after part 2 (8 x 8) and now (16 x 16,
 * part 3), and generated 4 x 8,
 * 8 x 4 and 8 x 8 variants (more outputs per invocation along P and/or M: one a block shared by two
 * b blocks, or the reverse). CPU ms per product (4 per submit), variants alternating, medians, and
 * the sum over one step's calls (4 layers). See bench/matmul-study.md, part 2.
 *
 *   STUDY_FILE=bench/matmul-study-shapes.bench.test.ts STUDY_ROUNDS=9 npx vitest run --config bench/vitest.matmul-study.config.ts
 *   # STUDY_ONLY='part 2 8x8,now 16x16'; STUDY_OUT (default bench/matmul-study-shapes.json)
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { createTensor, readF32, writeTensor } from '../src/gpu/buffers';
import { encode, Kernels, type Dispatch } from '../src/gpu/kernel';
import { acquireNodeDevice } from '../src/gpu/node-device';
import { dispatch, type OpContext } from '../src/engine/ops/context';
import matmulShader from '../shaders/matmul.wgsl?raw';

const ROUNDS = Number(process.env.STUDY_ROUNDS ?? 7);

const wide = (rows: number, cols: number) => {
  const name = `matmul_direct${rows}x${cols}`;
  const ra = rows / 4, cb = cols / 4;
  let body = `@compute @workgroup_size(WGX, WGY)\nfn ${name}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {\n`;
  body += `  let m = wid.y * ${rows}u * WGY + ${rows}u * lid.y;\n  let q = wid.x * ${cols}u * WGX + ${cols}u * lid.x;\n`;
  for (let i = 0; i < ra; i++) body += `  let oa${i} = a_offsets(m + ${4 * i}u);\n`;
  for (let j = 0; j < cb; j++) body += `  let ob${j} = b_offsets(q + ${4 * j}u);\n`;
  for (let i = 0; i < ra; i++) for (let j = 0; j < cb; j++) body += `  var acc${i}${j}: array<vec4<f32>, 4>;\n`;
  body += `  let sa = a_step();\n  let sb = b_step();\n  var ka = 0u;\n  var kb = 0u;\n  for (var k = 0u; k < p.K; k += 4u) {\n`;
  for (let i = 0; i < ra; i++) body += `    let a${i} = a_block(oa${i} + vec4<u32>(ka));\n`;
  for (let j = 0; j < cb; j++) body += `    let b${j} = b_block(ob${j} + vec4<u32>(kb));\n`;
  for (let i = 0; i < ra; i++) for (let j = 0; j < cb; j++) for (let r = 0; r < 4; r++) body += `    acc${i}${j}[${r}] += b${j} * a${i}[${r}];\n`;
  body += `    ka += sa;\n    kb += sb;\n  }\n`;
  for (let i = 0; i < ra; i++) for (let j = 0; j < cb; j++) body += `  for (var r = 0u; r < 4u; r++) { store4(m + ${4 * i}u + r, q + ${4 * j}u, acc${i}${j}[r]); }\n`;
  body += '}\n';
  return { name, rows, cols, code: `${matmulShader}\n${body}` };
};
/** shaders/matmul.wgsl before part 2 (matmul_direct4 with 4 x 4 outputs per invocation). */
const BEFORE_COMMIT = '34948fb';
/** shaders/matmul.wgsl after part 2 (matmul_direct4 with 8 x 8 outputs per invocation; part 3 made it 16 x 16). */
const PART2_COMMIT = 'b0aef0c';
const beforeCode = execSync(`git show ${BEFORE_COMMIT}:shaders/matmul.wgsl`, { encoding: 'utf8' });
// The 4 x 8 / 8 x 4 / 8 x 8 study kernels, generated on the before shader's helpers (the landed
// matmul_direct4 is the 8 x 8 one written out by hand).
const wideOn = (rows: number, cols: number) => { const k = wide(rows, cols); return { ...k, code: k.code.replace(matmulShader, beforeCode) }; };
const KERNELS = [
  { label: 'before 4x4', name: 'matmul_direct4', rows: 4, cols: 4, code: beforeCode },
  { label: 'study 4x8', ...wideOn(4, 8) },
  { label: 'study 8x4', ...wideOn(8, 4) },
  { label: 'study 8x8', ...wideOn(8, 8) },
  { label: 'part 2 8x8', name: 'matmul_direct4', rows: 8, cols: 8, code: execSync(`git show ${PART2_COMMIT}:shaders/matmul.wgsl`, { encoding: 'utf8' }) },
  { label: 'now 16x16', name: 'matmul_direct4', rows: 16, cols: 16, code: matmulShader },
].filter((k) => !process.env.STUDY_ONLY || process.env.STUDY_ONLY.split(',').includes(k.label));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

test('matmul study at the embedded model shapes', async () => {
  const gpu = await acquireNodeDevice();
  const { device } = gpu;
  const kernels = Kernels.for(device);
  const ctx: OpContext = { device, kernels, wg: 64, where: 'study', rope: null, scratch: () => { throw new Error('study: no scratch'); } };
  // [N, I, O, calls per step]: gate/up, down, q/k/v/o (k/v are smaller in the model: an upper bound), the LM head; 4 layers.
  const shapes = [[128, 256, 688, 8], [128, 688, 256, 4], [128, 256, 256, 16], [128, 256, 4096, 1]];
  const total: Record<string, number> = {};
  const rows: unknown[] = [];
  for (const [N, I, O, calls] of shapes) {
    const x = createTensor(device, 'x', [N, I]), w = createTensor(device, 'w', [O, I]), dout = createTensor(device, 'dout', [N, O]);
    writeTensor(device, x, new Float32Array(N * I).map((_, i) => Math.sin(i * 0.73)));
    writeTensor(device, w, new Float32Array(O * I).map((_, i) => Math.sin(i * 0.37)));
    writeTensor(device, dout, new Float32Array(N * O).map((_, i) => Math.cos(i * 0.11)));
    const out = createTensor(device, 'out', [N, O]), dx = createTensor(device, 'dx', [N, I]), dw = createTensor(device, 'dw', [O, I]);
    // [label, c, a, b, M, P, K, lda, ldb, aK, bK]
    const prods = [
      ['fwd', out, x, w, N, O, I, I, I, true, true],
      ['dx', dx, dout, w, N, I, O, O, I, true, false],
      ['dw', dw, dout, x, O, I, N, O, I, false, false],
    ] as const;
    for (const [label, c, a, b, M, P, K, lda, ldb, aK, bK] of prods) {
      const runs = KERNELS.map((kk) => {
        const constants = { WGX: 8, WGY: 8, BK: 1, A_KCONTIG: aK ? 1 : 0, B_KCONTIG: bK ? 1 : 0, B_F16: 0, B_BF16: 0 };
        const ds: Dispatch[] = [dispatch(ctx, { name: `study_${kk.label.replace(/ /g, '_')}.wgsl`, code: kk.code }, kk.name, [c, a, b], { u32: [M, P, K, lda, ldb, 0] }, [Math.ceil(P / (kk.cols * 8)), Math.ceil(M / (kk.rows * 8)), 1], constants, 3)];
        return { kk, ds, cpu: [] as number[] };
      });
      const once = async (ds: Dispatch[]) => {
        const c0 = process.cpuUsage();
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        for (let r = 0; r < 4; r++) encode(pass, ds);
        pass.end();
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
        const u = process.cpuUsage(c0);
        return (u.user + u.system) / 1000 / 4;
      };
      let ref: Float32Array | null = null;
      for (const r of runs) {
        writeTensor(device, c, new Float32Array(M * P));
        await once(r.ds);
        await kernels.checkCompilation();
        const got = await readF32(device, c);
        if (!ref) ref = got;
        else { let worst = 0; for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]) / (Math.abs(ref[i]) + 1)); expect(worst, `${r.kk.name} ${label}`).toBeLessThan(1e-5); }
      }
      for (let round = 0; round < ROUNDS; round++) for (const r of runs) r.cpu.push(await once(r.ds));
      const flop = 2 * M * P * K;
      for (const r of runs) {
        const ms = median(r.cpu);
        total[`${r.kk.label} ${label}`] = (total[`${r.kk.label} ${label}`] ?? 0) + ms * calls;
        total[r.kk.label] = (total[r.kk.label] ?? 0) + ms * calls;
        rows.push({ shape: [N, I, O], calls, product: label, variant: r.kk.label, cpuMs: ms, gflopPerCpuS: flop / (ms * 1e6), cpuSamples: r.cpu });
        console.log(`${label} N=${N} I=${I} O=${O} ${r.kk.label.padEnd(12)} cpu ${ms.toFixed(2).padStart(7)} ms ${(flop / (ms * 1e6)).toFixed(2)} GFLOP/cpu-s [${r.cpu.map((s) => s.toFixed(1)).join(' ')}]`);
      }
    }
    for (const t of [x, w, dout, out, dx, dw]) t.buffer.destroy();
  }
  console.log('CPU ms per step (medians x calls per step):', JSON.stringify(total));
  const out = process.env.STUDY_OUT ?? 'bench/matmul-study-shapes.json';
  writeFileSync(out, JSON.stringify({ adapter: `${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`, rounds: ROUNDS, when: new Date().toISOString(), total, rows }, null, 1));
  device.destroy();
});
