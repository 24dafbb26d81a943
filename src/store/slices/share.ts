/** The share slice: a link carrying the sample and every setting (share.ts encodes it), and applying one. */
import { decodeShare, shareUrl, type SharedState } from '../share';
import type { Slice } from '../index';
import { messageOfError, msg, type Message } from '../../spec/message';

export interface ShareSlice {
  share: { url: string | null; message: Message | null };
  makeShareLink(): Promise<void>;
  /** Apply the state in a share string (asks before discarding runs). */
  applyShare(encoded: string): Promise<void>;
}

export const createShareSlice: Slice<ShareSlice> = (set, get) => ({
  share: { url: null, message: null },

  async makeShareLink() {
    const s = get();
    try {
      const url = await shareUrl({ text: s.text, sampleIndex: s.sampleIndex, settings: s.settings, optimizer: s.optimizer, runs: s.runs });
      let message = msg('share.ready');
      try {
        await navigator.clipboard.writeText(url);
        message = msg('share.copied');
      } catch {
        message = msg('share.copyBelow');
      }
      set({ share: { url, message } });
    } catch (err) {
      set({ share: { url: null, message: msg('share.failed', { detail: messageOfError(err) }) } });
    }
  },
  async applyShare(encoded) {
    let shared: SharedState;
    try {
      shared = await decodeShare(encoded, get().settings);
    } catch (err) {
      set({ share: { url: null, message: messageOfError(err) } });
      return;
    }
    // Consumed: a reload shows the user's own edits, not the link again.
    history.replaceState(null, '', location.pathname + location.search);
    const apply = () => {
      set({ text: shared.text, sampleIndex: shared.sampleIndex, overrides: {}, settings: shared.settings, runs: shared.runs, optimizer: shared.optimizer, optimizerFor: null, share: { url: null, message: msg('share.loaded') } });
      get().relabel();
    };
    if (get().guard(apply)) apply();
  },
});
