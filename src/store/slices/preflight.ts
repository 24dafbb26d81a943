/**
 * The preflight slice: lint the whole dataset (the paste box's text, or a dropped file) under the
 * lab's first strategy (its other rows are compared with it), in the data worker, with progress and
 * cancel; open a sample of the report in the token view; export for the trainer that scales. Nothing
 * here is persisted: a report is re-run in seconds, and a dropped file is not ours to keep.
 */
import { isSuperseded } from '../../worker/protocol';
import type { ExportMask, ExportWhat, PreflightExportReply } from '../../worker/dataProtocol';
import type { FindingId, PreflightReport } from '../../data/preflight/types';
import { PAGE_LIMITS } from '../../data/preflight/types';
import { dataWorker } from '../clients';
import { englishOf, messageOfError, msg, type Message } from '../../spec/message';
import type { Slice } from '../index';

export interface PreflightState {
  status: 'idle' | 'running' | 'done' | 'error' | 'cancelled';
  done: number;
  total: number;
  report: PreflightReport | null;
  handle: number | null;
  error: Message | null;
  /** What the worker is doing before the samples are counted (reading, parsing); null once they are. */
  step: Message | null;
  /** What the report is about. */
  source: { kind: 'paste' } | { kind: 'file'; name: string; bytes: number };
}

export interface PreflightSlice {
  preflight: PreflightState;
  /** A dropped or chosen file to lint instead of the paste box (null: the paste box). */
  preflightFile: File | null;
  preflightFatal: FindingId[];
  /** The paste box's text before a sample of a file was opened in it (Undo). */
  preflightUndo: { text: string; sampleIndex: number } | null;
  setPreflightFile(file: File | null): void;
  setPreflightFatal(ids: FindingId[]): void;
  runPreflight(): void;
  cancelPreflight(): void;
  /** Show sample `index` of the report in the token view (a file's sample is put in the paste box, with Undo). */
  openPreflightSample(index: number): Promise<void>;
  undoOpenSample(): void;
  exportPreflight(what: ExportWhat): Promise<PreflightExportReply | null>;
  /** The last export's messages (what a tool cannot express), by tool. */
  preflightExportNotes: Partial<Record<ExportWhat, PreflightExportReply>>;
}

let latest = 0;

const idle: PreflightState = { status: 'idle', done: 0, total: 0, report: null, handle: null, error: null, step: null, source: { kind: 'paste' } };

export const createPreflightSlice: Slice<PreflightSlice> = (set, get) => ({
  preflight: idle,
  preflightFile: null,
  preflightFatal: ['nothing-to-train'],
  preflightUndo: null,
  preflightExportNotes: {},

  setPreflightFile(file) {
    if (file && file.size > PAGE_LIMITS.bytes) {
      set((s) => ({
        preflight: { ...s.preflight, status: 'error', error: msg('preflight.fileTooBigPage', { name: file.name, mb: (file.size / 2 ** 20).toFixed(1), max: PAGE_LIMITS.bytes / 2 ** 20 }) },
      }));
      return;
    }
    set({ preflightFile: file });
  },
  setPreflightFatal(ids) {
    set({ preflightFatal: ids });
  },

  runPreflight() {
    const s = get();
    const id = ++latest;
    const file = s.preflightFile;
    const [strategy, ...compare] = s.settings.lab.choices.map(({ id: sid, options }) => ({ id: sid, options }));
    set({
      preflight: { ...idle, status: 'running', source: file ? { kind: 'file', name: file.name, bytes: file.size } : { kind: 'paste' } },
      preflightExportNotes: {},
    });
    dataWorker
      .request(
        'preflight',
        {
          source: file ? { kind: 'file', file } : { kind: 'text', text: s.text },
          tokenizerId: s.settings.tokenizerId, modelTokenizer: s.modelTokenizer, contextLength: s.settings.contextLengths[s.settings.tokenizerId],
          policy: { ...s.settings.policy, overrides: {} }, splitSpecialTokens: s.settings.splitSpecialTokens, ownTemplate: s.settings.ownTemplate, customTokenizer: s.settings.customTokenizer, strategy, compare, fatal: s.preflightFatal,
        },
        { onEvent: (e) => id === latest && set((st) => ({ preflight: { ...st.preflight, done: e.done, total: e.total, step: e.status ?? (e.total > 0 ? null : st.preflight.step) } })) },
      )
      .then(
        (r) => id === latest && set((st) => ({ preflight: { ...st.preflight, status: 'done', report: r.report, handle: r.handle, done: r.report.totals.samples, total: r.report.totals.samples } })),
        (err: unknown) => {
          if (id !== latest || isSuperseded(err)) return;
          const message = err instanceof Error ? err.message : String(err);
          const cancelled = /cancelled/i.test(message);
          set((st) => ({ preflight: { ...st.preflight, status: cancelled ? 'cancelled' : 'error', error: cancelled ? null : messageOfError(err) } }));
        },
      );
  },
  cancelPreflight() {
    if (get().preflight.status !== 'running') return;
    void dataWorker.request('preflightCancel', {});
  },

  async openPreflightSample(index) {
    const s = get();
    const { preflight } = s;
    if (!preflight.report || preflight.handle === null) return;
    if (preflight.source.kind === 'paste') {
      s.setSampleIndex(index);
      return;
    }
    const { text } = await dataWorker.request('preflightSample', { handle: preflight.handle, index });
    const before = { text: get().text, sampleIndex: get().sampleIndex };
    get().setText(text);
    // setText asks first when runs exist; only an applied change can be undone.
    if (get().text === text) set({ preflightUndo: before, sampleIndex: 0 });
  },
  undoOpenSample() {
    const u = get().preflightUndo;
    if (!u) return;
    set({ preflightUndo: null });
    get().setText(u.text);
    if (get().text === u.text) set({ sampleIndex: u.sampleIndex });
  },

  async exportPreflight(what) {
    const s = get();
    if (s.preflight.handle === null) return null;
    const first = s.settings.lab.choices[0];
    const mask: ExportMask = first.id === 'template-spans' ? { kind: 'policy', policy: { ...s.settings.policy, overrides: {} } } : { kind: 'strategy', id: first.id, options: first.options };
    try {
      const r = await dataWorker.request('preflightExport', { handle: s.preflight.handle, what, mask });
      set((st) => ({ preflightExportNotes: { ...st.preflightExportNotes, [what]: r } }));
      return r;
    } catch (err) {
      const failed = msg('export.failed', { detail: messageOfError(err) });
      set((st) => ({ preflightExportNotes: { ...st.preflightExportNotes, [what]: { files: [], cannotExpress: [], notes: [englishOf(failed)], noteMsgs: [failed] } } }));
      return null;
    }
  },
});
