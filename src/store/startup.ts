/**
 * Start-up, once per page: read the saved state through persist.ts's table (each field through its
 * validator; what cannot be read keeps its default, with a note), start autosaving, label the
 * shown sample, acquire the GPU and load the model, and apply a share link in the URL.
 */
import { shareInHash } from './share';
import { loadRecords, readPersisted, startAutosave } from './persist';
import { useStore } from './index';

let started = false;

export async function hydrate(): Promise<void> {
  if (started) return;
  started = true;
  const { records, notes } = await loadRecords();
  const { patch, record, bad } = readPersisted(records, useStore.getState().settings);
  if (bad > 0) notes.push(`${bad} saved setting${bad === 1 ? '' : 's'} could not be read and ${bad === 1 ? 'was' : 'were'} reset to the default.`);
  useStore.setState({ ...patch, notice: notes.length ? notes.join(' ') : null });
  if (record) useStore.getState().showRecord(record);
  useStore.setState({ hydrated: true });
  startAutosave(useStore.getState, useStore.subscribe);
  useStore.getState().relabel();
  useStore.getState().startModel();
  const share = shareInHash(location.hash);
  if (share) await useStore.getState().applyShare(share);
}
