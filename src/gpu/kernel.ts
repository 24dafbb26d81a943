/**
 * Kernel = one WGSL file (with shaders/common.wgsl and the row reductions prepended, here and nowhere
 * else, then the file's own generated header if it has one) + entry point + override constants → a
 * labelled compute pipeline, compiled once per device and reduction variant, and cached.
 *
 * A header is WGSL generated from a TS table that the shader and its dispatcher both read (e.g. the
 * loss sums' indices, ops/lossReductions.ts): the table is the one source of the names, and the
 * header is prepended here like the prelude, so error positions point into it by its table's name.
 *
 * Row reductions (workgroup_sum / workgroup_max): where the device has the `subgroups` feature the
 * prelude is `enable subgroups;` + common.wgsl + reduce_subgroups.wgsl, else common.wgsl +
 * reduce_workgroup.wgsl (workgroup-memory tree). Both define the same functions and the `Lane`
 * entry-point input, so every op shader has one source. `new Kernels(device, false)` forces the
 * fallback on a device that has subgroups (tests run both; EngineOptions.subgroups).
 *
 * Ops do not encode work directly: a dispatcher records a `Dispatch` (pipeline, bind group,
 * workgroup counts) once when the model is built, and every step replays the recorded list.
 */
import common from '../../shaders/common.wgsl?raw';
import reduceSubgroups from '../../shaders/reduce_subgroups.wgsl?raw';
import reduceWorkgroup from '../../shaders/reduce_workgroup.wgsl?raw';
import type { GpuTensor } from './buffers';

/** A shader file: `name` is its file name (used in labels and error messages). */
export interface ShaderSource {
  name: string;
  code: string;
  /** WGSL generated from TS (`from` names the table, for error positions); ends in a newline. */
  header?: { from: string; text: string };
}

/** One recorded compute dispatch. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
  /** Floating-point operations (a multiply-add counts 2) where an op states them: matmuls, for the benchmark's GFLOP/s. */
  flops?: number;
}

/** One file of the prelude, with its text as prepended (each part ends in a newline). */
interface PreludePart {
  file: string;
  text: string;
}

/** The text prepended to every shader for one reduction variant, file by file. */
function prelude(subgroups: boolean): PreludePart[] {
  return [
    ...(subgroups ? [{ file: 'src/gpu/kernel.ts (prelude)', text: 'enable subgroups;\n' }] : []),
    { file: 'shaders/common.wgsl', text: `${common}\n` },
    subgroups ? { file: 'shaders/reduce_subgroups.wgsl', text: `${reduceSubgroups}\n` } : { file: 'shaders/reduce_workgroup.wgsl', text: `${reduceWorkgroup}\n` },
  ];
}

/** Lines of `text` as a WGSL compiler counts them (a trailing newline starts the next part's line). */
function lineCount(text: string): number {
  return text.split('\n').length - 1;
}

/** True when `device` was created with the `subgroups` feature. */
export function hasSubgroups(device: GPUDevice): boolean {
  return device.features.has('subgroups');
}

const perDevice = new WeakMap<GPUDevice, Map<boolean, Kernels>>();

/** Compiles shader modules and pipelines once per device and reduction variant. */
export class Kernels {
  /**
   * The device's shared cache for one reduction variant (default: subgroups where the device has
   * them): engines rebuilt on the same device reuse compiled pipelines.
   */
  static for(device: GPUDevice, subgroups = hasSubgroups(device)): Kernels {
    let byVariant = perDevice.get(device);
    if (!byVariant) {
      byVariant = new Map();
      perDevice.set(device, byVariant);
    }
    let k = byVariant.get(subgroups);
    if (!k) {
      k = new Kernels(device, subgroups);
      byVariant.set(subgroups, k);
    }
    return k;
  }

  private modules = new Map<string, { module: GPUShaderModule; src: ShaderSource; compiled: boolean }>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private readonly prelude: PreludePart[];

  /**
   * `subgroups`: row reductions use subgroup operations (default where the device has the feature);
   * false forces the workgroup-memory fallback.
   */
  constructor(
    readonly device: GPUDevice,
    readonly subgroups = hasSubgroups(device),
  ) {
    if (subgroups && !hasSubgroups(device)) {
      throw new Error("Subgroup reductions were requested but this device was created without the 'subgroups' feature (the adapter lacks it, or acquireDevice did not ask for it). Leave the subgroups option unset to use the workgroup-memory reductions.");
    }
    this.prelude = prelude(subgroups);
  }

  /** The pipeline for `entryPoint` of `src`, labelled like 'RmsnormForward.pipeline'. */
  pipeline(src: ShaderSource, entryPoint: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${src.name}:${entryPoint}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label: `${pascal(entryPoint)}.pipeline`,
        layout: 'auto',
        compute: { module: this.module(src), entryPoint, constants },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private module(src: ShaderSource): GPUShaderModule {
    let m = this.modules.get(src.name);
    if (!m) {
      // Exactly one place prepends the prelude and headers; error positions are mapped back below.
      const code = `${this.parts(src).map((p) => p.text).join('')}${src.code}`;
      m = { module: this.device.createShaderModule({ label: src.name, code }), src, compiled: false };
      this.modules.set(src.name, m);
    }
    return m.module;
  }

  /**
   * Throws one error listing every WGSL compile error as file:line:column, with the line numbers of
   * the .wgsl file on disk (not of the concatenated module). Call after building pipelines.
   */
  async checkCompilation(): Promise<void> {
    const problems: string[] = [];
    for (const m of this.modules.values()) {
      if (m.compiled) continue;
      const { module, src } = m;
      const info = await module.getCompilationInfo();
      m.compiled = !info.messages.some((msg) => msg.type === 'error');
      for (const msg of info.messages) {
        if (msg.type !== 'error') continue;
        problems.push(`${this.position(src, msg.lineNum)}:${msg.linePos}: ${msg.message}`);
      }
    }
    if (problems.length) throw new Error(`WGSL compilation failed (${this.subgroups ? 'subgroup' : 'workgroup-memory'} reductions):\n${problems.join('\n')}`);
  }

  /** What goes before `src.code`: the prelude, then src's header. */
  private parts(src: ShaderSource): PreludePart[] {
    return src.header ? [...this.prelude, { file: src.header.from, text: src.header.text }] : this.prelude;
  }

  /** 'file:line' on disk for line `lineNum` (1-based) of the concatenated module. */
  private position(src: ShaderSource, lineNum: number): string {
    let first = 1;
    for (const part of this.parts(src)) {
      const n = lineCount(part.text);
      if (lineNum < first + n) return `${part.file}:${lineNum - first + 1}`;
      first += n;
    }
    return `shaders/${src.name}:${lineNum - first + 1}`;
  }
}

/** A binding: a tensor view (storage) or a whole buffer (uniform). */
export type Binding = GpuTensor | GPUBuffer;

/** Records a dispatch; `bindings[i]` goes to @binding(i) of @group(0). */
export function record(
  device: GPUDevice,
  label: string,
  pipeline: GPUComputePipeline,
  bindings: readonly Binding[],
  workgroups: readonly [number, number, number],
): Dispatch {
  const bindGroup = device.createBindGroup({
    label: `${label}.bindGroup`,
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((b, binding) =>
      'buffer' in b ? { binding, resource: { buffer: b.buffer, offset: b.offset, size: b.size } } : { binding, resource: { buffer: b } },
    ),
  });
  return { label, pipeline, bindGroup, workgroups };
}

/** Encodes recorded dispatches into an open compute pass. */
export function encode(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    if (d.workgroups[0] === 0 || d.workgroups[1] === 0 || d.workgroups[2] === 0) continue;
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}

/** Most workgroups in one grid dimension every adapter allows (WebGPU default limit). */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Grid for `count` workgroups of 1-D work: spread over x and y because one dimension holds at most
 * 65535. Kernels recover the flat workgroup index with common.wgsl's `flat_workgroup`.
 */
export function grid(count: number): [number, number, number] {
  if (count <= MAX_WORKGROUPS_PER_DIM) return [count, 1, 1];
  const y = Math.ceil(count / MAX_WORKGROUPS_PER_DIM);
  if (y > MAX_WORKGROUPS_PER_DIM) throw new Error(`Dispatch of ${count} workgroups exceeds ${MAX_WORKGROUPS_PER_DIM}² workgroups; use a smaller batch or sequence length.`);
  return [Math.ceil(count / y), y, 1];
}

/** Workgroups of size `wg` needed for `n` invocations, as a grid. */
export function grid1d(n: number, wg: number): [number, number, number] {
  return grid(Math.ceil(n / wg));
}

/**
 * A uniform buffer with an op's sizes and scalars, created once per recorded dispatch. The WGSL
 * struct lists its u32 fields first, then its f32 fields, in the order given here.
 */
export function uniforms(device: GPUDevice, label: string, u32: readonly number[], f32: readonly number[] = []): GPUBuffer {
  const words = u32.length + f32.length;
  const bytes = Math.max(16, Math.ceil((words * 4) / 16) * 16);
  const buffer = device.createBuffer({ label: `${label}.uniforms`, size: bytes, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  const range = buffer.getMappedRange();
  const u = new Uint32Array(range);
  const f = new Float32Array(range);
  u32.forEach((x, i) => {
    if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Error(`${label}: uniform field ${i} must be a u32 (got ${x})`);
    u[i] = x;
  });
  f32.forEach((x, i) => (f[u32.length + i] = x));
  buffer.unmap();
  return buffer;
}

/** 'rmsnormForward' → 'RmsnormForward' (labels read like type names). */
export function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
