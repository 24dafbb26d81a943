/**
 * Tokenizer-only loads: a Hub id or a folder URL whose tokenizer and template files (no weights)
 * feed the token view, the lab and the preflight as tokenizerId 'custom'. Training still uses the
 * model's own tokenizer (the embedded one, or a loaded model's). A load that fails says why next to
 * its field and changes nothing; the named templates the files hold (default, tool_use…) can be picked.
 */
import type { TokenizerInfo } from '../../worker/dataProtocol';
import { dataWorker } from '../clients';
import { FALLBACK_CONTEXT } from '../../worker/dataProtocol';
import type { Slice } from '../index';
import { messageOfError, msg, type Message } from '../../spec/message';

export interface TokenizerOnlySlice {
  tokenizerLoad: { status: 'idle' | 'loading' | 'error'; source: string; error: Message | null; progress: Message | null };
  /** What the loaded tokenizer-only files hold (its named templates); null before a load. */
  customInfo: TokenizerInfo | null;
  loadTokenizerOnly(source: string): Promise<void>;
  /** Render the tokenizer-only load with another of its named templates. */
  setCustomTemplateName(name: string): Promise<void>;
}

let latest = 0;

export const createTokenizerOnlySlice: Slice<TokenizerOnlySlice> = (set, get) => ({
  tokenizerLoad: { status: 'idle', source: '', error: null, progress: null },
  customInfo: null,

  async loadTokenizerOnly(input) {
    const source = input.trim();
    if (source === '') {
      set({ tokenizerLoad: { status: 'error', source, error: msg('store.tokenizerSource'), progress: null } });
      return;
    }
    const id = ++latest;
    set({ tokenizerLoad: { status: 'loading', source, error: null, progress: null } });
    const label = source.replace(/\/+$/, '').split('/').slice(-2).join('/');
    const tokenizer = { source, label, contextLength: FALLBACK_CONTEXT.custom };
    try {
      const info = await dataWorker.request('tokenizerInfo', { tokenizer }, { onEvent: (e) => id === latest && set((s) => ({ tokenizerLoad: { ...s.tokenizerLoad, progress: e.status } })) });
      if (id !== latest) return;
      const custom = { ...tokenizer, label: `${label} (tokenizer only)`, contextLength: info.modelMaxLength ?? FALLBACK_CONTEXT.custom, ...(info.templateName ? { chatTemplateName: info.templateName } : {}) };
      set((s) => ({
        tokenizerLoad: { status: 'idle', source, error: null, progress: null }, customInfo: info,
        settings: { ...s.settings, customTokenizer: custom },
      }));
      // Show it: the token view, the lab and the preflight read it from now on.
      if (get().settings.tokenizerId === 'custom') get().relabel();
      else get().setTokenizer('custom');
    } catch (err) {
      if (id !== latest) return;
      set({ tokenizerLoad: { status: 'error', source, error: msg('store.tokenizerFailed', { source, detail: messageOfError(err) }), progress: null } });
    }
  },

  async setCustomTemplateName(name) {
    const c = get().settings.customTokenizer;
    if (!c || c.chatTemplateName === name) return;
    const next = { ...c, chatTemplateName: name };
    try {
      const info = await dataWorker.request('tokenizerInfo', { tokenizer: next });
      set((s) => ({ customInfo: info, settings: { ...s.settings, customTokenizer: next } }));
      if (get().settings.tokenizerId === 'custom') get().relabel();
    } catch (err) {
      set((s) => ({ tokenizerLoad: { ...s.tokenizerLoad, status: 'error', error: messageOfError(err) } }));
    }
  },
});
