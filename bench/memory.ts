/**
 * What the loss path costs in GPU memory, from the engine's size table: an unfused LM head +
 * cross-entropy holds logits and dlogits, (N, V) each; the fused one holds only what its layout
 * lists under the names in LOSS_PATH_TENSORS.
 */
import type { LlamaConfig } from '../src/spec/config';
import { buildLayout } from '../src/engine/layout';

/** Tensors whose size grows with V on the loss path (whichever exist in the current layout). */
const LOSS_PATH_TENSORS = ['logits', 'dlogits', 'lmHead.chunk', 'lastLogits'];

export function fusedLossSavings(config: LlamaConfig, B: number, T: number): { vocab: number; B: number; T: number; vocabChunk: number; logitsBytes: number; savedBytes: number } {
  const N = B * T, V = config.vocab_size;
  const logitsBytes = 2 * N * V * 4;
  const layout = buildLayout(config, B, T);
  let current = 0;
  for (const cat of ['activations', 'activation_grads', 'scratch'] as const) {
    for (const name of LOSS_PATH_TENSORS) current += layout.slots[cat].get(name)?.bytes ?? 0;
  }
  return { vocab: V, B, T, vocabChunk: layout.vocabChunk, logitsBytes, savedBytes: logitsBytes - current };
}
