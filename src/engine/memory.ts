/** Allocates the layout's arenas as GPUBuffers and hands out tensor views by category and name. */
import { createStorageBuffer, type GpuTensor } from '../gpu/buffers';
import type { Category, Layout, Slot } from './layout';

export class GpuMemory {
  readonly buffers: GPUBuffer[];

  constructor(
    readonly device: GPUDevice,
    readonly layout: Layout,
  ) {
    this.buffers = layout.arenas.map((a) => createStorageBuffer(device, a.label, a.bytes));
  }

  slot(category: Category, name: string): Slot {
    const s = this.layout.slots[category].get(name);
    if (!s) throw new Error(`No ${category} tensor named '${name}' in the engine layout.`);
    return s;
  }

  /** The view of one tensor. */
  tensor(category: Category, name: string): GpuTensor {
    const s = this.slot(category, name);
    const t: GpuTensor = { name: `${category}:${name}`, shape: s.shape, buffer: this.buffers[s.arena], offset: s.offset, size: Math.max(4, s.bytes) };
    return category === 'weights_f16' ? { ...t, dtype: this.layout.halfDtype } : t;
  }

  /** Indices of the arenas of a category, in layout order. */
  arenasOf(category: Category): number[] {
    return this.layout.arenas.flatMap((a, i) => (a.category === category ? [i] : []));
  }

  /** A whole arena as one flat f32 tensor (AdamW, gradient norm, clears). */
  arena(index: number): GpuTensor {
    const a = this.layout.arenas[index];
    return { name: a.label, shape: [a.bytes / 4], buffer: this.buffers[index], offset: 0, size: a.bytes };
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
  }
}
