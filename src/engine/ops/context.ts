/**
 * What every GPU dispatcher needs besides its tensors. Dispatchers in this folder have the reference's
 * names and argument order (outputs, inputs, sizes) after a leading `ctx`, and return the recorded
 * dispatches (pipelines and bind groups built once; replayed every step).
 */
import { numel, type GpuTensor } from '../../gpu/buffers';
import { Kernels, pascal, record, uniforms, type Binding, type Dispatch, type ShaderSource } from '../../gpu/kernel';
import type { MatmulTiles } from './matmul';

/** cos/sin table for RoPE (see ops/rope.ts), part of the engine's constant memory. */
export interface RopeTable {
  tensor: GpuTensor; // (P, hs/2, 2)
  hs: number;
  theta: number;
  /** Positions covered: 0 … P-1. */
  P: number;
}

export interface OpContext {
  device: GPUDevice;
  kernels: Kernels;
  /** Invocations per workgroup of 1-D/per-row kernels (WGSL override `WG`), a power of two. */
  wg: number;
  /** Where in the model the dispatch sits, for labels ('layers.3.self_attn'). */
  where: string;
  rope: RopeTable | null;
  /** Tile shape of the tiled matmul (autotuned per adapter); DEFAULT_MATMUL_TILES when absent. */
  matmulTiles?: MatmulTiles;
  /** Scratch tensors an op needs between its own kernels (attention: 'attention.dpre'). */
  scratch(name: string, shape: readonly number[]): GpuTensor;
}

/**
 * Rows row0 … row0+rows-1 of a (rows, cols) matrix, held by `tensor` (shape (rows, cols)). A matrix
 * too large for one buffer is a list of these in row order (layout.ts Slot.parts); an unsplit one
 * is a single part (wholeRows).
 */
export interface RowPart {
  row0: number;
  rows: number;
  tensor: GpuTensor;
}

/** One tensor as a one-part list, or the list itself. */
export function rowParts(t: GpuTensor | readonly RowPart[]): readonly RowPart[] {
  return 'buffer' in t ? [{ row0: 0, rows: t.shape[0], tensor: t }] : t;
}

/** The same context, labelling dispatches as sitting at `where`. */
export function at(ctx: OpContext, where: string): OpContext {
  return { ...ctx, where };
}

/**
 * Records `entryPoint` of `src`: bindings in @binding order, plus (unless `params` is null) a fresh
 * uniform buffer of sizes/scalars inserted at binding `uniformAt` (default: after the others).
 */
export function dispatch(
  ctx: OpContext,
  src: ShaderSource,
  entryPoint: string,
  bindings: readonly Binding[],
  params: { u32: readonly number[]; f32?: readonly number[] } | null,
  workgroups: readonly [number, number, number],
  constants: Record<string, number> = { WG: ctx.wg },
  uniformAt = bindings.length,
): Dispatch {
  const label = `${pascal(camel(entryPoint))}${ctx.where ? `[${ctx.where}]` : ''}`;
  const pipeline = ctx.kernels.pipeline(src, entryPoint, constants);
  const all: Binding[] = [...bindings];
  if (params) all.splice(uniformAt, 0, uniforms(ctx.device, label, params.u32, params.f32 ?? []));
  return record(ctx.device, label, pipeline, all, workgroups);
}

/** Throws at build time when a tensor does not hold `shape`'s elements (a wiring bug, said plainly). */
export function expectSize(op: string, t: GpuTensor, shape: readonly number[], what: string, allowF16 = false): void {
  if (t.dtype && !allowF16) throw new Error(`${op}: ${what} '${t.name}' is stored as ${t.dtype}, which this op does not read.`);
  const want = numel(shape);
  const have = numel(t.shape);
  if (have !== want) {
    throw new Error(`${op}: ${what} '${t.name}' has shape (${t.shape.join(', ')}) = ${have} elements, expected (${shape.join(', ')}) = ${want}.`);
  }
}

/** 'rmsnorm_backward_weight' → 'rmsnormBackwardWeight'. */
function camel(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
