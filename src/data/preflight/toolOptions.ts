// The option names (and enumerable values) each trainer accepts in the files export.ts writes, and
// the checker the tests run every generated config through. Each table is the part of the tool's
// schema that covers data loading, chat templates, masking, length and packing, plus the few run
// keys a config needs (model, output folder); it is not the tool's whole option list. A key that
// is not in its table is an error, so a misspelt or invented option cannot reach a download.
//
// Written from the tools' own sources (read, not copied):
// - TRL v1.9.0 (git 35def3e): trl/trainer/sft_config.py SFTConfig, trl/scripts/utils.py
//   ScriptArguments / DatasetConfig / DatasetMixtureConfig, trl/trainer/model_config.py ModelConfig,
//   trl/scripts/sft.py (`trl sft --config` reads all four), docs/source/clis.md. TRL main
//   (f2cd577, 1.10.0.dev0) has the same SFTConfig keys.
// - axolotl v0.18.0 (git 2f5cb9d): src/axolotl/utils/schemas/datasets.py SFTDataset,
//   schemas/config.py (chat_template, chat_template_jinja, eot_tokens, sequence_len,
//   excess_length_strategy, sample_packing), schemas/model.py (base_model, output_dir),
//   schemas/training.py (train_on_inputs), docs/dataset-formats/conversation.qmd and tokenized.qmd.
// - LLaMA-Factory 0.9.6.dev0 (git ff6d4d1): src/llamafactory/data/parser.py DatasetAttr (the
//   dataset_info.json entry, its columns and tags), hparams/data_args.py, finetuning_args.py,
//   model_args.py, data/README.md, examples/train_lora/qwen3_lora_sft.yaml.
// - torchtune 0.7.0 (git bd2a0fc): torchtune/datasets/_chat.py chat_dataset, datasets/_sft.py
//   SFTDataset, data/_messages.py OpenAIToMessages, models/{llama3,qwen2_5,qwen3}/_model_builders.py
//   tokenizer builders, recipes/configs/qwen3/0.6B_lora_single_device.yaml.

export type ToolId = 'trl' | 'axolotl' | 'llamafactory' | 'torchtune';
export const TOOL_IDS: readonly ToolId[] = ['trl', 'axolotl', 'llamafactory', 'torchtune'];

export const TOOL_VERSIONS: Readonly<Record<ToolId, string>> = {
  trl: 'TRL 1.9.0 (git 35def3e)',
  axolotl: 'axolotl 0.18.0 (git 2f5cb9d)',
  llamafactory: 'LLaMA-Factory 0.9.6.dev0 (git ff6d4d1)',
  torchtune: 'torchtune 0.7.0 (git bd2a0fc)',
};

/** What a value may be. 'object' lists its keys (any other key is an error); 'component' is
 *  torchtune's `_component_` dict, whose other keys depend on the component named. */
export type Rule =
  | { type: 'string' | 'bool' | 'int' | 'number' | 'stringList' }
  | { type: 'enum'; values: readonly (string | boolean)[] }
  | { type: 'object'; keys: Readonly<Record<string, Rule>> }
  | { type: 'list'; of: Rule }
  | { type: 'component'; components: Readonly<Record<string, Readonly<Record<string, Rule>>>> };

const str: Rule = { type: 'string' };
const bool: Rule = { type: 'bool' };
const int: Rule = { type: 'int' };
const num: Rule = { type: 'number' };
const strs: Rule = { type: 'stringList' };
const oneOf = (...values: (string | boolean)[]): Rule => ({ type: 'enum', values });
const obj = (keys: Record<string, Rule>): Rule => ({ type: 'object', keys });

// --- TRL: one YAML for `trl sft --config` (ScriptArguments + SFTConfig + ModelConfig + DatasetMixtureConfig).
const TRL_DATASET = obj({ path: str, name: str, data_dir: str, data_files: str, split: str, columns: strs, fraction: num });
export const TRL_SFT_CONFIG = obj({
  // ScriptArguments
  dataset_name: str,
  dataset_config: str,
  dataset_train_split: str,
  dataset_test_split: str,
  dataset_streaming: bool,
  // ModelConfig
  model_name_or_path: str,
  model_revision: str,
  dtype: oneOf('auto', 'bfloat16', 'float16', 'float32'),
  attn_implementation: str,
  use_peft: bool,
  // DatasetMixtureConfig
  datasets: { type: 'list', of: TRL_DATASET },
  streaming: bool,
  test_split_size: num,
  // transformers TrainingArguments (the run keys the export writes)
  output_dir: str,
  report_to: str,
  // SFTConfig
  chat_template_path: str,
  dataset_text_field: str,
  dataset_num_proc: int,
  eos_token: str,
  max_length: int,
  truncation_mode: oneOf('keep_start', 'keep_end'),
  shuffle_dataset: bool,
  packing: bool,
  packing_strategy: oneOf('bfd', 'bfd_split', 'wrapped'),
  padding_free: bool,
  pad_to_multiple_of: int,
  eval_packing: bool,
  completion_only_loss: bool,
  assistant_only_loss: bool,
  loss_type: oneOf('nll', 'dft', 'chunked_nll'),
  activation_offloading: bool,
});

// --- axolotl: one YAML (top-level keys, and each `datasets:` entry).
export const AXOLOTL_TRAIN_ON = ['all', 'turn', 'last', 'none'] as const;
const AXOLOTL_DATASET = obj({
  path: str,
  split: str,
  // Empty (null) for a pre-tokenized dataset (docs/dataset-formats/tokenized.qmd).
  type: { type: 'enum', values: ['chat_template', ''] },
  ds_type: oneOf('json', 'csv', 'parquet', 'arrow', 'text'),
  data_files: str,
  name: str,
  chat_template: oneOf('tokenizer_default', 'jinja', 'chatml', 'llama3', 'gemma', 'qwen3'),
  chat_template_jinja: str,
  field_messages: str,
  field_tools: str,
  field_thinking: str,
  template_thinking_key: str,
  message_property_mappings: obj({ role: str, content: str }),
  message_field_training: str,
  message_field_training_detail: str,
  split_thinking: bool,
  roles_to_train: strs,
  train_on_eos: oneOf(...AXOLOTL_TRAIN_ON),
  train_on_eot: oneOf(...AXOLOTL_TRAIN_ON),
  drop_system_message: bool,
});
export const AXOLOTL_CONFIG = obj({
  base_model: str,
  output_dir: str,
  datasets: { type: 'list', of: AXOLOTL_DATASET },
  dataset_prepared_path: str,
  chat_template: oneOf('tokenizer_default', 'jinja', 'chatml', 'llama3', 'gemma', 'qwen3'),
  chat_template_jinja: str,
  eot_tokens: strs,
  train_on_inputs: bool,
  sequence_len: int,
  excess_length_strategy: oneOf('drop', 'truncate', 'raise'),
  sample_packing: bool,
  pad_to_sequence_len: bool,
});

// --- LLaMA-Factory: dataset_info.json (one entry per dataset) and the train arguments YAML.
export const LLAMAFACTORY_DATASET_ENTRY = obj({
  file_name: str,
  formatting: oneOf('alpaca', 'sharegpt', 'openai'),
  ranking: bool,
  subset: str,
  split: str,
  folder: str,
  num_samples: int,
  columns: obj({ prompt: str, query: str, response: str, history: str, messages: str, system: str, tools: str }),
  tags: obj({ role_tag: str, content_tag: str, user_tag: str, assistant_tag: str, observation_tag: str, function_tag: str, system_tag: str }),
});
export const LLAMAFACTORY_TRAIN = obj({
  model_name_or_path: str,
  trust_remote_code: bool,
  stage: oneOf('pt', 'sft', 'rm', 'ppo', 'dpo', 'kto'),
  do_train: bool,
  finetuning_type: oneOf('lora', 'oft', 'freeze', 'full'),
  dataset: str,
  dataset_dir: str,
  template: str,
  cutoff_len: int,
  train_on_prompt: bool,
  mask_history: bool,
  packing: bool,
  neat_packing: bool,
  enable_thinking: bool,
  preserve_thinking: bool,
  tokenized_path: str,
  output_dir: str,
  report_to: str,
});

// --- torchtune: the `tokenizer:` and `dataset:` sections of a recipe config.
export const TORCHTUNE_MASKING = ['train_on_assistant', 'train_on_all', 'train_on_last'] as const;
const TT_TOKENIZER_ARGS = { path: str, special_tokens_path: str, max_seq_len: int, truncation_type: oneOf('right', 'left') };
const TT_BPE_TOKENIZER_ARGS = { ...TT_TOKENIZER_ARGS, merges_file: str };
/** The module export.ts writes for train_on_last (chat_dataset has no masking_strategy argument). */
export const TORCHTUNE_LAST_TURN_BUILDER = 'sft_last_turn.last_turn_chat_dataset';
const TT_DATASET_ARGS = { source: str, data_files: str, split: str, packed: bool, conversation_column: str };
export const TORCHTUNE_CONFIG = obj({
  tokenizer: {
    type: 'component',
    components: {
      'torchtune.models.llama3.llama3_tokenizer': TT_TOKENIZER_ARGS,
      'torchtune.models.qwen2_5.qwen2_5_tokenizer': TT_BPE_TOKENIZER_ARGS,
      'torchtune.models.qwen3.qwen3_tokenizer': TT_BPE_TOKENIZER_ARGS,
    },
  },
  dataset: {
    type: 'component',
    components: {
      'torchtune.datasets.chat_dataset': { ...TT_DATASET_ARGS, conversation_style: oneOf('openai', 'sharegpt'), train_on_input: bool, new_system_prompt: str },
      [TORCHTUNE_LAST_TURN_BUILDER]: { ...TT_DATASET_ARGS, masking_strategy: oneOf(...TORCHTUNE_MASKING) },
    },
  },
  output_dir: str,
});

/** The kinds of config file export.ts writes; checkConfig picks the table for each. */
export type ConfigKind = 'trl-sft' | 'axolotl' | 'llamafactory-dataset-info' | 'llamafactory-train' | 'torchtune';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every key and value of `value` not allowed by `rule`, as "path: problem" lines ([] = valid).
 *  null is allowed for any key but the top level (YAML's empty value: the tool's default). */
export function checkOptions(rule: Rule, value: unknown, path = ''): string[] {
  const at = path || '(top level)';
  if (value === null) return path ? [] : [`${at}: the file is empty`];
  switch (rule.type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${at}: expected a string, got ${JSON.stringify(value)}`];
    case 'bool':
      return typeof value === 'boolean' ? [] : [`${at}: expected true or false, got ${JSON.stringify(value)}`];
    case 'int':
      return Number.isInteger(value) ? [] : [`${at}: expected an integer, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? [] : [`${at}: expected a number, got ${JSON.stringify(value)}`];
    case 'stringList':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [] : [`${at}: expected a list of strings, got ${JSON.stringify(value)}`];
    case 'enum':
      return rule.values.includes(value as string | boolean) ? [] : [`${at}: ${JSON.stringify(value)} is not one of ${rule.values.map((v) => JSON.stringify(v)).join(', ')}`];
    case 'list':
      if (!Array.isArray(value)) return [`${at}: expected a list`];
      return value.flatMap((v, i) => checkOptions(rule.of, v, `${path}[${i}]`));
    case 'object': {
      if (!isPlainObject(value)) return [`${at}: expected a mapping`];
      const errors: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        const sub = `${path ? `${path}.` : ''}${k}`;
        if (!Object.hasOwn(rule.keys, k)) errors.push(`${sub}: unknown option`);
        else errors.push(...checkOptions(rule.keys[k], v, sub));
      }
      return errors;
    }
    case 'component': {
      if (!isPlainObject(value)) return [`${at}: expected a mapping with _component_`];
      const name = value._component_;
      if (typeof name !== 'string' || !Object.hasOwn(rule.components, name)) return [`${at}._component_: unknown component ${JSON.stringify(name)}`];
      const { _component_: _, ...args } = value;
      return checkOptions(obj(rule.components[name]), args, path);
    }
  }
}

/** A parsed config file of `kind` against its tool's table ([] = valid). dataset_info.json maps
 *  dataset names (the user's choice) to entries, so only the entries are checked. */
export function checkConfig(kind: ConfigKind, value: unknown): string[] {
  switch (kind) {
    case 'trl-sft':
      return checkOptions(TRL_SFT_CONFIG, value);
    case 'axolotl':
      return checkOptions(AXOLOTL_CONFIG, value);
    case 'llamafactory-train':
      return checkOptions(LLAMAFACTORY_TRAIN, value);
    case 'torchtune':
      return checkOptions(TORCHTUNE_CONFIG, value);
    case 'llamafactory-dataset-info':
      if (!isPlainObject(value)) return ['(top level): expected a mapping from dataset name to its description'];
      return Object.entries(value).flatMap(([name, entry]) => checkOptions(LLAMAFACTORY_DATASET_ENTRY, entry, name));
  }
}
