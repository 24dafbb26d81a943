import type { ChatTokenizer, TokenizerSource } from './types';
// Replaced by the real loader in the next commit; present so the UI can build against the API.
export async function loadTokenizer(src: TokenizerSource, fetchJson: (url: string) => Promise<unknown>): Promise<ChatTokenizer> {
  await fetchJson(src.tokenizerUrl);
  throw new Error('loadTokenizer not implemented yet');
}
