/** Allocates the layout's arenas as GPUBuffers and hands out tensor views by category and name. */
import { createStorageBuffer, type GpuTensor } from '../gpu/buffers';
import type { Category, Layout, Slot } from './layout';
import type { RowPart } from './ops/context';

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

  /** The view of one tensor (one that is split by rows has no single view: use parts()). */
  tensor(category: Category, name: string): GpuTensor {
    const s = this.slot(category, name);
    if (s.parts) throw new Error(`The ${category} tensor '${name}' is split by rows into ${s.parts.length} buffers (it exceeds one binding); read it with parts().`);
    const t: GpuTensor = { name: `${category}:${name}`, shape: s.shape, buffer: this.buffers[s.arena], offset: s.offset, size: Math.max(4, s.bytes) };
    return category === 'weights_f16' ? { ...t, dtype: this.layout.halfDtype } : t;
  }

  /** The row parts of a tensor, in row order: one part covering every row when it is not split. */
  parts(category: Category, name: string): RowPart[] {
    const s = this.slot(category, name);
    if (!s.parts) return [{ row0: 0, rows: s.shape[0] ?? 1, tensor: this.tensor(category, name) }];
    const cols = s.shape.slice(1);
    return s.parts.map((p) => ({
      row0: p.row0, rows: p.rows,
      tensor: { name: `${category}:${name}[${p.row0}:${p.row0 + p.rows}]`, shape: [p.rows, ...cols], buffer: this.buffers[p.arena], offset: p.offset, size: Math.max(4, p.bytes) },
    }));
  }

  /** Every view of the named tensors, parts flattened in order (read-back and upload by name). */
  views(category: Category, name: string): GpuTensor[] {
    return this.parts(category, name).map((p) => p.tensor);
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
