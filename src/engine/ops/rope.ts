/** Rotary position embedding, HF rotate_half layout (shaders/rope.wgsl). */
import shader from '../../../shaders/rope.wgsl?raw';
import type { GpuTensor } from '../../gpu/buffers';
import { grid1d, type Dispatch } from '../../gpu/kernel';
import { dispatch, expectSize, type OpContext, type RopeTable } from './context';

const src = { name: 'rope.wgsl', code: shader };

/**
 * cos/sin table (P, hs/2, 2) in float64, rounded once to f32: angle p * theta^(-2j/hs) with the
 * inverse frequency computed as torch does, 1 / theta^(2j/hs).
 */
export function ropeTableData(hs: number, theta: number, P: number): Float32Array {
  const half = hs / 2;
  const out = new Float32Array(P * half * 2);
  for (let j = 0; j < half; j++) {
    const invFreq = 1 / Math.pow(theta, (2 * j) / hs);
    for (let p = 0; p < P; p++) {
      const a = p * invFreq;
      out[(p * half + j) * 2] = Math.cos(a);
      out[(p * half + j) * 2 + 1] = Math.sin(a);
    }
  }
  return out;
}

function table(ctx: OpContext, op: string, hs: number, theta: number): RopeTable {
  const t = ctx.rope;
  if (!t || t.hs !== hs || t.theta !== theta) {
    throw new Error(`${op}: the engine's RoPE table is for ${t ? `hs=${t.hs}, theta=${t.theta}` : 'nothing'}, but this call has hs=${hs}, theta=${theta}.`);
  }
  return t;
}

function rope(ctx: OpContext, op: string, entry: string, out: GpuTensor, x: GpuTensor, positions: GpuTensor, B: number, T: number, H: number, hs: number, theta: number): Dispatch[] {
  const N = B * T;
  expectSize(op, out, [B, T, H, hs], 'output');
  expectSize(op, x, [B, T, H, hs], 'input');
  expectSize(op, positions, [N], 'positions');
  if (out.buffer === x.buffer && out.offset < x.offset + x.size && x.offset < out.offset + out.size) throw new Error(`${op}: output '${out.name}' must not overlap input '${x.name}'.`);
  const t = table(ctx, op, hs, theta);
  return [dispatch(ctx, src, entry, [out, x, positions, t.tensor], { u32: [N, H, hs, t.P] }, grid1d((N * H * hs) / 2, ctx.wg))];
}

/** out (B,T,H,hs) =, x (B,T,H,hs), positions (N). Positions must lie in [0, P) of the table. */
export function ropeForward(ctx: OpContext, out: GpuTensor, x: GpuTensor, positions: GpuTensor, B: number, T: number, H: number, hs: number, theta: number): Dispatch[] {
  return rope(ctx, 'ropeForward', 'rope_forward', out, x, positions, B, T, H, hs, theta);
}

/** dx (B,T,H,hs) =, dout (B,T,H,hs), positions (N). */
export function ropeBackward(ctx: OpContext, dx: GpuTensor, dout: GpuTensor, positions: GpuTensor, B: number, T: number, H: number, hs: number, theta: number): Dispatch[] {
  return rope(ctx, 'ropeBackward', 'rope_backward', dx, dout, positions, B, T, H, hs, theta);
}
