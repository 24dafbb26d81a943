/**
 * Asynchronous readback for the training loop: a small ring of MAP_READ staging buffers. A step
 * copies its results into a free slot inside its own command encoder, submits, and starts mapAsync
 * without awaiting it; the caller gets a promise. The next step proceeds at once unless every slot
 * is still in flight (then it waits for the oldest: back-pressure, so the CPU never runs more than
 * `slots` steps ahead of the GPU).
 */
import type { GpuTensor } from './buffers';

interface Slot {
  buffer: GPUBuffer;
  /** Resolves when the slot is free again (its data copied out and unmapped). */
  done: Promise<void> | null;
}

export class ReadbackRing {
  private slots: Slot[];
  private next = 0;

  /** `bytes`: the most one step reads back. */
  constructor(
    device: GPUDevice,
    label: string,
    readonly bytes: number,
    slotCount = 4,
  ) {
    this.slots = Array.from({ length: slotCount }, (_, i) => ({
      buffer: device.createBuffer({ label: `${label}.staging${i}`, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
      done: null,
    }));
  }

  /**
   * Reserves the next slot: waits only if that slot's previous readback is still in flight.
   * Returns a function that encodes the copies of `sources` (packed in order) and a function to
   * call right after queue.submit() that starts the map and returns the bytes' promise.
   */
  async reserve(): Promise<{
    encodeCopies: (enc: GPUCommandEncoder, sources: readonly GpuTensor[]) => void;
    afterSubmit: () => Promise<ArrayBuffer>;
    /** Frees the slot when the step failed before submit (otherwise the ring would wait on it forever). */
    cancel: () => void;
  }> {
    const slot = this.slots[this.next];
    this.next = (this.next + 1) % this.slots.length;
    if (slot.done) await slot.done;
    let used = 0;
    let resolveDone!: () => void;
    slot.done = new Promise<void>((r) => (resolveDone = r));
    return {
      encodeCopies: (enc, sources) => {
        for (const s of sources) {
          if (used + s.size > slot.buffer.size) throw new Error(`ReadbackRing: ${s.name} (${s.size} bytes) does not fit the ${this.bytes}-byte staging slot.`);
          enc.copyBufferToBuffer(s.buffer, s.offset, slot.buffer, used, s.size);
          used += s.size;
        }
      },
      afterSubmit: () =>
        slot.buffer.mapAsync(GPUMapMode.READ, 0, slot.buffer.size).then(
          () => {
            const data = slot.buffer.getMappedRange(0, slot.buffer.size).slice(0, used);
            slot.buffer.unmap();
            resolveDone();
            return data;
          },
          (err: unknown) => {
            resolveDone();
            throw err;
          },
        ),
      cancel: () => resolveDone(),
    };
  }

  /** Waits until every reserved slot has been read. */
  async drain(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.done));
  }

  destroy(): void {
    for (const s of this.slots) s.buffer.destroy();
  }
}
