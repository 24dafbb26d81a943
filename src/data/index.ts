// Public API of the data path (see types.ts for the labelling contract).
// UI code imports from here; Node tests import the individual modules so they can read
// tokenizer files with fs instead of the browser-only `?url` imports in sources.ts.
export * from './types';
export { parseChatInput } from './parse';
export { loadTokenizer } from './tokenizer';
export { TOKENIZERS } from './sources';
export { encodeChat, tokenizeConversation } from './attribution';
export { DEFAULT_POLICY, computeLabels } from './labels';
export { checkContext } from './context';
export { EXAMPLES } from './examples';
export { visibleWhitespace } from './whitespace';
