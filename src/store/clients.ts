/**
 * The page's two workers, each behind one typed client (src/worker/protocol.ts). Created on first
 * use; the training client's broadcasts and crashes go to whoever installed `trainHooks`.
 */
import { WorkerClient } from '../worker/protocol';
import type { DataProtocol } from '../worker/dataProtocol';
import type { TrainBroadcast, TrainProtocol } from '../worker/trainProtocol';
import type { Message } from '../spec/message';

export const trainHooks: { onBroadcast?: (e: TrainBroadcast) => void; onCrash?: (message: string, m: Message) => void } = {};

export const dataWorker = new WorkerClient<DataProtocol>(
  () => new Worker(new URL('../worker/data.worker.ts', import.meta.url), { type: 'module', name: 'data' }),
);

export const trainWorker = new WorkerClient<TrainProtocol, TrainBroadcast>(
  () => new Worker(new URL('../worker/train.worker.ts', import.meta.url), { type: 'module', name: 'train' }),
  { onBroadcast: (e) => trainHooks.onBroadcast?.(e), onCrash: (message, m) => trainHooks.onCrash?.(message, m) },
);
