/**
 * Start-up, once per page: read the saved state through persist.ts's table (each field through its
 * validator; what cannot be read keeps its default, with a note), start autosaving, label the
 * shown sample, acquire the GPU and load the model, bring saved weights back, and apply a share
 * link in the URL. With `?faults=1`, window.__playgroundFaults offers fault injection for tests.
 */
import { shareInHash } from './share';
import { loadRecords, readPersisted, startAutosave } from './persist';
import { useStore } from './index';
import { trainWorker } from './clients';
import { isEmbedded } from './slices/model';
import { joined, msg } from '../spec/message';

let started = false;

export async function hydrate(): Promise<void> {
  if (started) return;
  started = true;
  const { records, notes } = await loadRecords();
  const { patch, record, bad } = readPersisted(records, useStore.getState().settings);
  if (bad > 0) notes.push(msg('notice.badSettings', { count: bad }));
  useStore.setState({ ...patch, notice: notes.length ? joined(notes) : null });
  if (record) useStore.getState().showRecord(record);
  useStore.setState({ hydrated: true });
  startAutosave(useStore.getState, useStore.subscribe);
  useStore.getState().relabel();
  useStore.getState().startModel();
  // Saved weights come back once the model and the GPU are ready: a finished training is live
  // again without retraining, an interrupted one continues from its last checkpoint.
  if (record?.saved) {
    const unsubscribe = useStore.subscribe((st) => {
      if (st.model.status === 'loading' || st.gpu.status === 'pending') return;
      // The token view (and so the data prepared for training) must read the loaded model's tokenizer first.
      const m = st.model.loaded;
      if (m && !isEmbedded(m) && st.modelTokenizer?.source !== m.source) return;
      unsubscribe();
      if (st.record === record && st.model.status === 'ready' && st.gpu.status === 'ok') st.restoreSaved();
    });
  }
  if (new URLSearchParams(location.search).has('faults')) {
    // Test hooks: lose the GPU device; reach the page's one store (e2e tests that inject a worker reply).
    (globalThis as unknown as { __playgroundFaults: unknown }).__playgroundFaults = { loseDevice: () => trainWorker.request('loseDevice', {}), store: useStore };
  }
  const share = shareInHash(location.hash);
  if (share) await useStore.getState().applyShare(share);
}
