/**
 * LoRA (shaders/lora.wgsl): out += scale · (x A^T) B^T on top of a frozen projection, and its
 * backward, as six thin strided products. Same names and argument order as the reference's
 * loraForward / loraBackward (src/reference/ops.ts).
 */
import shader from '../../../shaders/lora.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import type { Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext } from './context';

const src = { name: 'lora.wgsl', code: shader };
/** Output edge of a workgroup (the shader's TILE override): TILE² = 64 invocations. */
const TILE = 8;
const MAX_WORKGROUPS = 65535;

interface Strided {
  c: GpuTensor; a: GpuTensor; b: GpuTensor;
  M: number; P: number; K: number;
  /** a(m, k) at m*am + k*ak; b(k, p) at k*bk + p*bp. */
  am: number; ak: number; bk: number; bp: number;
  accumulate: boolean; scale: number;
  label: string;
}

function product(ctx: OpContext, s: Strided): Dispatch {
  const x = Math.ceil(s.P / TILE), y = Math.ceil(s.M / TILE);
  if (x > MAX_WORKGROUPS || y > MAX_WORKGROUPS) throw new Error(`${s.label}: a ${s.M} x ${s.P} product needs more than ${MAX_WORKGROUPS} workgroups in one dimension; reduce the batch or sequence length.`);
  const d = dispatch(ctx, src, 'lora_product', [s.c, s.a, s.b], { u32: [s.M, s.P, s.K, s.am, s.ak, s.bk, s.bp, s.accumulate ? 1 : 0], f32: [s.scale] }, [x, y, 1], { TILE });
  return { ...d, label: `${s.label}${ctx.where ? `[${ctx.where}]` : ''}`, flops: 2 * s.M * s.P * s.K };
}

/** out (N,O) +=, u (N,r) = x A^T (kept for backward); x (N,I), A (r,I), B (O,r). */
export function loraForward(ctx: OpContext, out: GpuTensor, u: GpuTensor, x: GpuTensor, A: GpuTensor, B: GpuTensor, scale: number, N: number, I: number, O: number, r: number): Dispatch[] {
  const op = 'loraForward';
  expectSize(op, out, [N, O], 'out');
  expectSize(op, u, [N, r], 'u');
  expectSize(op, x, [N, I], 'x');
  expectSize(op, A, [r, I], 'A');
  expectSize(op, B, [O, r], 'B');
  return [
    product(ctx, { label: 'LoraForwardDown', c: u, a: x, b: A, M: N, P: r, K: I, am: I, ak: 1, bk: 1, bp: I, accumulate: false, scale: 1 }),
    product(ctx, { label: 'LoraForwardUp', c: out, a: u, b: B, M: N, P: O, K: r, am: r, ak: 1, bk: 1, bp: r, accumulate: true, scale }),
  ];
}

/**
 * dx (N,I) +=, dA (r,I) +=, dB (O,r) +=, du (N,r) = (scratch); dout (N,O), x (N,I), u (N,r) from
 * forward, A, B. dx accumulates: the frozen projection's dx is already there.
 */
export function loraBackward(
  ctx: OpContext, dx: GpuTensor, dA: GpuTensor, dB: GpuTensor, du: GpuTensor,
  dout: GpuTensor, x: GpuTensor, u: GpuTensor, A: GpuTensor, B: GpuTensor,
  scale: number, N: number, I: number, O: number, r: number,
): Dispatch[] {
  const op = 'loraBackward';
  expectSize(op, dx, [N, I], 'dx');
  expectSize(op, dA, [r, I], 'dA');
  expectSize(op, dB, [O, r], 'dB');
  expectSize(op, du, [N, r], 'du');
  expectSize(op, dout, [N, O], 'dout');
  expectSize(op, x, [N, I], 'x');
  expectSize(op, u, [N, r], 'u');
  expectSize(op, A, [r, I], 'A');
  expectSize(op, B, [O, r], 'B');
  return [
    product(ctx, { label: 'LoraBackwardDu', c: du, a: dout, b: B, M: N, P: r, K: O, am: O, ak: 1, bk: r, bp: 1, accumulate: false, scale }),
    product(ctx, { label: 'LoraBackwardDb', c: dB, a: dout, b: u, M: O, P: r, K: N, am: 1, ak: O, bk: r, bp: 1, accumulate: true, scale }),
    product(ctx, { label: 'LoraBackwardDa', c: dA, a: du, b: x, M: r, P: I, K: N, am: 1, ak: r, bk: I, bp: 1, accumulate: true, scale: 1 }),
    product(ctx, { label: 'LoraBackwardDx', c: dx, a: du, b: A, M: N, P: I, K: r, am: r, ak: 1, bk: I, bp: 1, accumulate: true, scale: 1 }),
  ];
}
