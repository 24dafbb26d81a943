/**
 * WebGPU device acquisition for the browser (navigator.gpu) and Node (pass the `GPU` object from
 * `nodeGpu()` in ./node-device.ts). Records what the adapter is, including whether the browser
 * quietly handed us a CPU fallback adapter, so the UI can say so.
 */
import { CodedError, msg } from '../spec/message';

/** What the UI and reports show about the adapter. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True when this is a software (CPU) adapter, e.g. SwiftShader: training will be very slow. */
  isFallbackAdapter: boolean;
  features: string[];
  /**
   * Subgroup sizes the adapter may use (WebGPU `subgroups`): SwiftShader 4, NVIDIA 32, AMD 32 or 64.
   * Undefined where the browser does not report them. Kernels never assume one size.
   */
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** Optional features the device was created with (a subset of `features`). */
  enabledFeatures?: string[];
  /** The limits the device was created with (the ones the engine's sizes depend on). */
  limits: DeviceLimits;
}

export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
}

export interface Gpu {
  device: GPUDevice;
  adapter: AdapterReport;
  /** Validation/out-of-memory errors nobody captured in an error scope, newest last. */
  uncapturedErrors: string[];
  /** Set when the device is lost (driver reset, tab backgrounded too long, destroy()). */
  lost: GPUDeviceLostInfo | null;
}

/** Limits requested at the adapter's maximum: model size and batch size depend on them. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
] as const;

/**
 * Optional features the device asks for when the adapter has them: timestamp-query (per-dispatch
 * timings in the benchmark), subgroups (reductions in softmax and norms), shader-f16.
 */
const OPTIONAL_FEATURES = ['timestamp-query', 'subgroups', 'shader-f16'];

/**
 * Gets an adapter and a device with raised limits. `gpu` defaults to `navigator.gpu`.
 * Throws an error that says what to do when WebGPU is missing or no adapter is offered.
 */
export async function acquireDevice(gpu?: GPU, powerPreference: GPUPowerPreference = 'high-performance'): Promise<Gpu> {
  const g = gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!g) {
    throw new CodedError(msg('gpu.noWebgpu'));
  }
  const adapter = await g.requestAdapter({ powerPreference });
  if (!adapter) {
    throw new CodedError(msg('gpu.noAdapter'));
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) requiredLimits[k] = adapter.limits[k];
  // Strings, not GPUFeatureName: TF.js (bench only) brings an older @webgpu/types without 'subgroups'.
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ label: 'sft-playground.device', requiredLimits, requiredFeatures });
  const info = adapter.info;
  const l = device.limits;
  const out: Gpu = {
    device,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: Boolean(info.isFallbackAdapter) || isSoftwareAdapter(info),
      features: [...adapter.features].sort(),
      subgroupMinSize: info.subgroupMinSize,
      subgroupMaxSize: info.subgroupMaxSize,
      enabledFeatures: [...device.features].sort(),
      limits: {
        maxBufferSize: l.maxBufferSize,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
        minUniformBufferOffsetAlignment: l.minUniformBufferOffsetAlignment,
      },
    },
    uncapturedErrors: [],
    lost: null,
  };
  device.addEventListener('uncapturederror', (e) => {
    out.uncapturedErrors.push((e as GPUUncapturedErrorEvent).error.message);
  });
  void device.lost.then((info) => {
    out.lost = info;
  });
  return out;
}

/**
 * SwiftShader (Chrome's CPU rasteriser) does not always set isFallbackAdapter, e.g. when Dawn is
 * pointed at it as a Vulkan driver; recognise it by name too.
 */
function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const s = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return s.includes('swiftshader') || s.includes('llvmpipe') || s.includes('software');
}

/** One line for logs and the UI, e.g. "nvidia ampere (NVIDIA GeForce RTX 3080)". */
export function describeAdapter(a: AdapterReport): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const detail = a.description || a.device;
  return `${name}${detail ? ` (${detail})` : ''}${a.isFallbackAdapter ? ' [CPU fallback adapter: expect slow training]' : ''}`;
}
