/**
 * The parameters of the LLaMA model: names (Hugging Face's), shapes and order, in one table that
 * the reference, the GPU engine's size table, the loader and the export all read. Letters as in
 * config.ts.
 */
import { headSize, type LlamaConfig } from './config';

export interface TensorSpec {
  name: string;
  shape: readonly number[];
}

/**
 * The parameter size table, Hugging Face names, in this order (the order of the flat arrays and
 * of the GPU engine's parameter buffer):
 *   model.embed_tokens.weight                        (V, C)
 *   per layer i:
 *     model.layers.{i}.input_layernorm.weight        (C)
 *     model.layers.{i}.self_attn.q_proj.weight       (NH*hs, C)  + .bias (NH*hs)  if attention_bias
 *     model.layers.{i}.self_attn.k_proj.weight       (NKV*hs, C) + .bias (NKV*hs) if attention_bias
 *     model.layers.{i}.self_attn.v_proj.weight       (NKV*hs, C) + .bias (NKV*hs) if attention_bias
 *     model.layers.{i}.self_attn.o_proj.weight       (C, NH*hs)
 *     model.layers.{i}.post_attention_layernorm.weight (C)
 *     model.layers.{i}.mlp.gate_proj.weight          (F, C)
 *     model.layers.{i}.mlp.up_proj.weight            (F, C)
 *     model.layers.{i}.mlp.down_proj.weight          (C, F)
 *   model.norm.weight                                (C)
 *   lm_head.weight                                   (V, C)  absent when tie_word_embeddings
 */
export function paramTable(cfg: LlamaConfig): TensorSpec[] {
  const C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
  const NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads, hs = headSize(cfg);
  const bias = cfg.attention_bias === true;
  const t: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [V, C] }];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    t.push({ name: `${p}.input_layernorm.weight`, shape: [C] });
    for (const [proj, O] of [['q_proj', NH * hs], ['k_proj', NKV * hs], ['v_proj', NKV * hs]] as const) {
      t.push({ name: `${p}.self_attn.${proj}.weight`, shape: [O, C] });
      if (bias) t.push({ name: `${p}.self_attn.${proj}.bias`, shape: [O] });
    }
    t.push({ name: `${p}.self_attn.o_proj.weight`, shape: [C, NH * hs] });
    t.push({ name: `${p}.post_attention_layernorm.weight`, shape: [C] });
    t.push({ name: `${p}.mlp.gate_proj.weight`, shape: [F, C] });
    t.push({ name: `${p}.mlp.up_proj.weight`, shape: [F, C] });
    t.push({ name: `${p}.mlp.down_proj.weight`, shape: [C, F] });
  }
  t.push({ name: 'model.norm.weight', shape: [C] });
  if (!cfg.tie_word_embeddings) t.push({ name: 'lm_head.weight', shape: [V, C] });
  return t;
}

/** Weight decay applies to 2-D matrices only: not to norm weights, not to biases. */
export function decays(spec: TensorSpec): boolean {
  return spec.shape.length === 2;
}
