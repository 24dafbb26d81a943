/**
 * The real Hub config.json files of the models the playground is sized for (src/model/fixtures/hub,
 * byte for byte as the Hub serves them; no weights): they parse, their parameter counts land where
 * the model names say, and the size table's totals per training mode are printed for the README.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { llamaConfigFromHf } from './hfConfig';
import { paramTable } from '../spec/params';
import { DEFAULT_LORA, trainableCount } from '../spec/lora';
import { memoryEstimate, type LoraLayout } from '../engine/layout';
import type { LlamaConfig } from '../spec/config';

const HUB_CONFIGS = {
  'SmolLM2-135M-Instruct': { repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', parameters: 134_515_008 },
  'SmolLM2-360M-Instruct': { repo: 'HuggingFaceTB/SmolLM2-360M-Instruct', parameters: 361_821_120 },
  'Qwen2.5-0.5B-Instruct': { repo: 'Qwen/Qwen2.5-0.5B-Instruct', parameters: 494_032_768 },
} as const;

const read = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/hub/${name}.config.json`, import.meta.url), 'utf8'));

const count = (c: LlamaConfig) => paramTable(c).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);

const MODES: { name: string; lora: LoraLayout | null }[] = [
  { name: 'full f32', lora: null },
  { name: 'LoRA f32 base', lora: { config: DEFAULT_LORA, baseDtype: 'f32' } },
  { name: 'LoRA bf16 base', lora: { config: DEFAULT_LORA, baseDtype: 'bf16' } },
];

describe('Hub model configs', () => {
  for (const [name, want] of Object.entries(HUB_CONFIGS)) {
    it(`${name} parses, has ~${(want.parameters / 1e6).toFixed(1)}M parameters; size table per mode`, () => {
      const info = llamaConfigFromHf(read(name), `${name}.config.json`);
      const c = info.config;
      const n = count(c);
      expect(Math.abs(n - want.parameters) / want.parameters).toBeLessThan(0.01);
      expect(c.tie_word_embeddings).toBe(true);
      expect(info.notes).toEqual([]);
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
      const rows = MODES.map(({ name: mode, lora }) => {
        const at = [[1, 256], [8, 512]].map(([B, T]) => `B=${B} T=${T}: ${mib(memoryEstimate(c, B, T, 1, undefined, false, lora).total)}`);
        return `  ${mode.padEnd(15)} trains ${(trainableCount(c, lora?.config ?? null) / 1e6).toFixed(2)}M  ${at.join('  ')}`;
      });
      console.log(`${name} (${want.repo}): ${n.toLocaleString('en-US')} parameters\n${rows.join('\n')}`);
    });
  }

  it('the exact shapes: SmolLM2 is llama without biases, Qwen2.5 is qwen2 with q/k/v biases', () => {
    const smol = llamaConfigFromHf(read('SmolLM2-135M-Instruct')).config;
    expect(smol).toEqual({
      vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
      num_attention_heads: 9, num_key_value_heads: 3, rope_theta: 100000, rms_norm_eps: 1e-5,
      tie_word_embeddings: true, max_position_embeddings: 8192, attention_bias: false,
    });
    expect(llamaConfigFromHf(read('SmolLM2-360M-Instruct')).config).toMatchObject({
      vocab_size: 49152, hidden_size: 960, intermediate_size: 2560, num_hidden_layers: 32,
      num_attention_heads: 15, num_key_value_heads: 5, attention_bias: false,
    });
    expect(llamaConfigFromHf(read('Qwen2.5-0.5B-Instruct')).config).toEqual({
      vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24,
      num_attention_heads: 14, num_key_value_heads: 2, rope_theta: 1000000, rms_norm_eps: 1e-6,
      tie_word_embeddings: true, max_position_embeddings: 32768, attention_bias: true,
    });
  });
});
