/**
 * The parameters of the LLaMA model: names (Hugging Face's), shapes and order, in one table that
 * the reference, the GPU engine's size table and decoder, the loader, the export and the bench all
 * read. Nothing else spells out a parameter name. Letters as in config.ts.
 */
import { headSize, type LlamaConfig } from './config';

export interface TensorSpec {
  name: string;
  shape: readonly number[];
}

/** HF names of the tensors outside the decoder layers. */
export const EMBED_TOKENS = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

/** One decoder layer's tensors: the short name the engine and the reference use → HF name after `model.layers.{i}.`. */
const LAYER_PARAMS = {
  ln1: 'input_layernorm.weight',
  q: 'self_attn.q_proj.weight', qb: 'self_attn.q_proj.bias',
  k: 'self_attn.k_proj.weight', kb: 'self_attn.k_proj.bias',
  v: 'self_attn.v_proj.weight', vb: 'self_attn.v_proj.bias',
  o: 'self_attn.o_proj.weight',
  ln2: 'post_attention_layernorm.weight',
  gate: 'mlp.gate_proj.weight', up: 'mlp.up_proj.weight', down: 'mlp.down_proj.weight',
} as const;

export type LayerParam = keyof typeof LAYER_PARAMS;

/** The layers' projection matrices (the nn.Linear weights). */
export const PROJECTIONS: readonly LayerParam[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** HF names of decoder layer i's tensors (qb, kb, vb exist only with attention_bias). */
export function layerParamNames(i: number): Record<LayerParam, string> {
  return Object.fromEntries(Object.entries(LAYER_PARAMS).map(([key, name]) => [key, `model.layers.${i}.${name}`])) as Record<LayerParam, string>;
}

/** Which layer tensor an HF name is ('model.layers.3.mlp.up_proj.weight' → 'up'); null outside the layers. */
export function layerParamOf(name: string): LayerParam | null {
  const m = /^model\.layers\.\d+\.(.+)$/.exec(name);
  const key = m && (Object.keys(LAYER_PARAMS) as LayerParam[]).find((k) => LAYER_PARAMS[k] === m[1]);
  return key ?? null;
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
  const t: TensorSpec[] = [{ name: EMBED_TOKENS, shape: [V, C] }];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const n = layerParamNames(i);
    t.push({ name: n.ln1, shape: [C] });
    for (const [w, b, O] of [[n.q, n.qb, NH * hs], [n.k, n.kb, NKV * hs], [n.v, n.vb, NKV * hs]] as const) {
      t.push({ name: w, shape: [O, C] });
      if (bias) t.push({ name: b, shape: [O] });
    }
    t.push({ name: n.o, shape: [C, NH * hs] });
    t.push({ name: n.ln2, shape: [C] });
    t.push({ name: n.gate, shape: [F, C] });
    t.push({ name: n.up, shape: [F, C] });
    t.push({ name: n.down, shape: [C, F] });
  }
  t.push({ name: FINAL_NORM, shape: [C] });
  if (!cfg.tie_word_embeddings) t.push({ name: LM_HEAD, shape: [V, C] });
  return t;
}

/** Weight decay applies to 2-D matrices only: not to norm weights, not to biases. */
export function decays(spec: TensorSpec): boolean {
  return spec.shape.length === 2;
}
