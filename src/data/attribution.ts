import type { ChatTokenizer, Conversation, TokenizedSample } from './types';
// Replaced by the real attribution in the next commit; present so the UI can build against the API.
export function tokenizeConversation(tok: ChatTokenizer, conv: Conversation): TokenizedSample {
  throw new Error(`tokenizeConversation not implemented yet (${tok.id}, ${conv.length} messages)`);
}
