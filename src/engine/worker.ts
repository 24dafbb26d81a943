/**
 * Web Worker entry of the training engine: `new Worker(new URL('./engine/worker.ts', import.meta.url), { type: 'module' })`.
 * Speaks the protocol in protocol.ts; the GPU is acquired in the worker (navigator.gpu).
 */
import { acquireDevice } from '../gpu/device';
import { createEngineHost } from './host';
import type { FromEngine, ToEngine } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const handle = createEngineHost((msg: FromEngine, transfer?: Transferable[]) => scope.postMessage(msg, transfer ?? []), () => acquireDevice());
scope.onmessage = (e: MessageEvent<ToEngine>) => void handle(e.data);
