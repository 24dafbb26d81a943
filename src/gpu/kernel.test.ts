/**
 * Kernels: the prelude (common.wgsl + one row-reduction variant) and a shader's generated header are
 * prepended in one place, and WGSL compile errors point at the file on disk and its own line
 * numbers under either variant (or at the header's line, by the name of the table it came from).
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeDevice, nodeGpu } from './node-device';
import { hasSubgroups, Kernels } from './kernel';
import brokenWgsl from './fixtures/broken.wgsl?raw';
import usesHeaderWgsl from './fixtures/uses_header.wgsl?raw';

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

  it('prepends a generated header after the prelude: errors map into the file or into the header by its table', async () => {
    const { device } = await acquireNodeDevice();
    const compile = async (src: { name: string; code: string; header: { from: string; text: string } }, entry: string) => {
      const k = new Kernels(device, false);
      device.pushErrorScope('validation');
      k.pipeline(src, entry, { WG: 64 });
      await device.popErrorScope();
      return k.checkCompilation().then(() => null, (e: Error) => e.message);
    };
    const header = { from: 'test table', text: 'const FIRST: u32 = 0u;\nconst SECOND: u32 = 1u;\n' };
    const inFile = await compile({ name: 'broken.wgsl', code: brokenWgsl, header }, 'broken_entry');
    expect(inFile).toContain('shaders/broken.wgsl:4:');
    const badHeader = { from: 'test table', text: 'const FIRST: u32 = 0u;\nconst SECOND: u32 = undeclared_name;\n' };
    const inHeader = await compile({ name: 'uses_header.wgsl', code: usesHeaderWgsl, header: badHeader }, 'uses_header');
    console.log(`header: ${inHeader}`);
    expect(inHeader).toContain('test table:2:');
    expect(await compile({ name: 'uses_header.wgsl', code: usesHeaderWgsl, header }, 'uses_header')).toBeNull();
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
