/**
 * Kernels: the prelude (common.wgsl + one row-reduction variant) is prepended in one place, and
 * WGSL compile errors point at the file on disk and its own line numbers under either variant.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeDevice, nodeGpu } from './node-device';
import { hasSubgroups, Kernels } from './kernel';
import brokenWgsl from './fixtures/broken.wgsl?raw';

describe('Kernels', () => {
  it('maps a compile error to the shader file and line, with subgroup and workgroup-memory reductions', async () => {
    const { device } = await acquireNodeDevice();
    // Line 4 of fixtures/broken.wgsl uses an undeclared identifier.
    const broken = { name: 'broken.wgsl', code: brokenWgsl };
    const variants = hasSubgroups(device) ? [true, false] : [false];
    for (const subgroups of variants) {
      const k = new Kernels(device, subgroups);
      device.pushErrorScope('validation');
      k.pipeline(broken, 'broken_entry', { WG: 64 });
      await device.popErrorScope();
      const err = await k.checkCompilation().then(() => null, (e: Error) => e.message);
      console.log(`${subgroups ? 'subgroups' : 'workgroup memory'}: ${err}`);
      expect(err).toMatch(/^WGSL compilation failed/);
      expect(err).toContain('shaders/broken.wgsl:4:');
    }
  });

  it('refuses subgroup reductions on a device created without the feature', async () => {
    const { device } = await acquireNodeDevice();
    const adapter = await nodeGpu().requestAdapter();
    const plain = await adapter!.requestDevice({ label: 'test.noSubgroups' });
    expect(hasSubgroups(plain)).toBe(false);
    expect(() => new Kernels(plain, true)).toThrow(/without the 'subgroups' feature/);
    expect(new Kernels(plain).subgroups).toBe(false);
    expect(Kernels.for(device, false).subgroups).toBe(false);
    plain.destroy();
  });
});
