/**
 * Node only (tests, scripts): WebGPU through the `webgpu` npm package (Dawn). Never import this
 * from browser code: it loads a native addon.
 *
 * On a machine without a Vulkan GPU driver Dawn needs Chromium's SwiftShader: the process must start
 * with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json and LD_LIBRARY_PATH including
 * /usr/lib/chromium (vite.config.ts sets both for Vitest).
 */
import { create, globals } from 'webgpu';
import { acquireDevice, type Gpu } from './device';

let instance: GPU | null = null;

/** The process-wide Dawn instance; also installs the WebGPU globals (GPUBufferUsage, …). */
export function nodeGpu(): GPU {
  if (!instance) {
    Object.assign(globalThis, globals);
    instance = create([]);
  }
  return instance;
}

/** acquireDevice() on Dawn. */
export function acquireNodeDevice(): Promise<Gpu> {
  return acquireDevice(nodeGpu());
}
