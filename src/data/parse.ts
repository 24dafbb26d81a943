import type { ParseResult } from './types';
// Replaced by the real parser in the next commit; present so the UI can build against the API.
export function parseChatInput(text: string): ParseResult {
  return { ok: false, error: { message: `parser not implemented yet (${text.length} chars)` } };
}
