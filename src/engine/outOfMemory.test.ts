/**
 * Out of GPU memory while the engine allocates: the error says how much was asked for and what to
 * do (a smaller batch or context), and nothing is left half-built. The adapter here never runs out,
 * so the device's out-of-memory scope is made to report one, as a real GPU's would.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { MICRO_CONFIG } from '../spec/config';
import { randomModel } from '../reference/testkit';
import { tensorView } from '../reference/model';
import { Engine } from './trainer';

let gpu: Gpu;
let weights: Record<string, Float32Array>;

beforeAll(async () => {
  gpu = await acquireNodeDevice();
  const ref = randomModel(MICRO_CONFIG, 1);
  weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
});

/** The device, with its out-of-memory scopes reporting `error`. */
function outOfMemory(real: GPUDevice, error: { message: string }): GPUDevice {
  const scopes: GPUErrorFilter[] = [];
  return new Proxy(real, {
    get(target, key) {
      if (key === 'pushErrorScope') return (f: GPUErrorFilter) => (scopes.push(f), target.pushErrorScope(f));
      if (key === 'popErrorScope') {
        return async () => {
          const real = await target.popErrorScope();
          return scopes.pop() === 'out-of-memory' ? error : real;
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('out of GPU memory', () => {
  it('building the engine fails with the size asked for and a suggestion', async () => {
    const oom = { ...gpu, device: outOfMemory(gpu.device, { message: 'Not enough memory left (test)' }) };
    const err = await Engine.create({ gpu: oom, config: MICRO_CONFIG, B: 2, T: 8, weights }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const m = (err as Error).message;
    expect(m).toMatch(/ran out of memory/);
    expect(m).toMatch(/about \d+ MiB for B=2, T=8/);
    expect(m).toMatch(/Not enough memory left \(test\)/);
    expect(m).toMatch(/Reduce the batch size or sequence length/);
    // The real device is unharmed: an engine still builds on it.
    const ok = await Engine.create({ gpu, config: MICRO_CONFIG, B: 2, T: 8, weights });
    ok.destroy();
  });
});
