/**
 * The model slice: the GPU, the model in use and its loading, and weight export. The embedded
 * model, or what `?model=` names, loads when the page opens; loadModel() loads another (folder URL
 * or Hub repo id). The model in use stays until the new one has loaded, so a failed load
 * (offline, unsupported architecture, too large for the GPU) only shows an error. When runs exist,
 * loading another model would discard them, so the source's config.json is read and checked first
 * (checkSource): a typo, a missing folder, an unsupported architecture or an offline Hub only shows
 * the error next to the field, and only a model that can load asks to discard the runs. A loaded
 * model's tokenizer becomes the token view's 'default' tokenizer (setModelTokenizer).
 */
import { llamaConfigFromHf } from '../../model/hfConfig';
import { fetchModelFile, resolveModelSource } from '../../model/hub';
import { defaultOptimizer } from '../../spec/optimizer';
import type { ExportedFile, LoadedModel } from '../../worker/trainProtocol';
import { trainWorker, trainHooks } from '../clients';
import type { GpuState, ModelState } from '../types';
import type { Slice } from '../index';
import { CodedError, messageOfError, msg, uncoded, type Message } from '../../spec/message';

/** The embedded model's folder (public/models/playground-base/): loads when no `?model=` is given. */
export const EMBEDDED_MODEL = `${import.meta.env.BASE_URL}models/playground-base/`;
/** Offered in the model field (small LLaMA-style chat models on the Hub; they need the network). */
export const MODEL_SUGGESTIONS = ['HuggingFaceTB/SmolLM2-135M-Instruct', 'HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct'] as const;

/** Whether `m` is the embedded model (its tokenizer is the token view's built-in 'default'). */
export const isEmbedded = (m: LoadedModel): boolean => m.kind === 'folder' && m.url === resolveModelSource(EMBEDDED_MODEL).baseUrl;

const modelDiscardMessage = (source: string): Message => msg('model.discard', { source });

export interface ModelSlice {
  model: ModelState;
  gpu: GpuState;
  /** Run whose weights are being exported, and the last export's error. */
  exporting: number | null;
  exportError: Message | null;
  /** Acquire the GPU and load the start-up model (`?model=` or the embedded one). Call once. */
  startModel(): void;
  /** Load another model (folder URL or Hub repo id); asks first when runs exist. */
  loadModel(source: string): void;
  /** Stop the download in progress; the model in use stays. */
  cancelLoad(): void;
  /** Run `run`'s current weights as Hugging Face files (model.safetensors, config.json, tokenizer files). */
  /** Run `run`'s files: its (merged) model, or with `adapter` its PEFT adapter (LoRA runs). */
  exportRun(run: number, adapter?: boolean): Promise<ExportedFile[]>;
}

/** The load whose progress and answer count (older ones were superseded or cancelled). */
let loadingId = 0;
/** The source check whose answer counts (a newer Load click supersedes it). */
let checkingId = 0;

/** A failed load's message, in the same words whether the source check or the worker failed. */
const loadError = (source: string, detail: Message): Message => msg(navigator.onLine ? 'model.loadFailed' : 'model.loadFailedOffline', { source, detail });

/**
 * Reads and checks `source`'s config.json (a few KiB; Hub files land in the model cache the
 * worker reads next): null when it names a model this engine runs, else why not. The memory
 * check needs the GPU's limits and stays with the worker.
 */
async function checkSource(source: string): Promise<Message | null> {
  const loc = resolveModelSource(source);
  if (loc.kind === 'hub' && !navigator.onLine) {
    return loadError(source, msg('model.hubOffline'));
  }
  try {
    const where = loc.kind === 'hub' ? `${loc.repo}/config.json` : `${loc.baseUrl}config.json`;
    const bytes = await fetchModelFile(loc, 'config.json');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw new CodedError(msg('model.configNotJson', { where, detail: err instanceof Error ? err.message : String(err) }));
    }
    llamaConfigFromHf(json, where);
    return null;
  } catch (err) {
    return loadError(source, messageOfError(err));
  }
}

export const createModelSlice: Slice<ModelSlice> = (set, get) => {
  function onLoaded(model: LoadedModel, byUser: boolean): void {
    const s = get();
    set({
      model: { status: 'ready', url: model.source, progress: null, loaded: model, error: null },
      // Defaults follow the model until the user edits a setting.
      ...(s.optimizerFor !== null ? { optimizer: defaultOptimizer(model.params, s.parse?.sampleCount ?? 1), optimizerFor: model.name } : {}),
    });
    // The token view follows a model the user picked (or `?model=`): training tokenizes with that
    // model's tokenizer, and hand overrides index its tokens. The embedded model at start-up leaves
    // the user's saved tokenizer choice alone.
    const embedded = isEmbedded(model);
    if (byUser || !embedded) {
      get().setModelTokenizer(embedded ? null : { source: model.source, label: model.name, contextLength: model.config.max_position_embeddings });
    }
    if (byUser) {
      // A reload (or a share link) opens the same model: `?model=` names it, the embedded one needs none.
      const url = new URL(location.href);
      if (embedded) url.searchParams.delete('model');
      else url.searchParams.set('model', model.source);
      history.replaceState(history.state, '', url);
    }
  }

  /** Ask the worker for `source`; the model in use stays until it has loaded. */
  function startLoad(source: string, byUser: boolean): void {
    const mine = ++loadingId;
    set((s) => ({ model: { ...s.model, status: 'loading', url: source, progress: null, error: null } }));
    trainWorker
      .request('load', { source: { url: source } }, { onEvent: (p) => mine === loadingId && set((s) => ({ model: { ...s.model, progress: p } })) })
      .then(
        (model) => {
          if (mine !== loadingId) return;
          if (byUser) get().discardRuns(); // the worker dropped the runs with the old model
          onLoaded(model, byUser);
        },
        (err: unknown) => {
          if (mine !== loadingId) return; // superseded or cancelled: the page already moved on
          set((s) => ({
            model: {
              ...s.model, status: s.model.loaded ? 'ready' : 'error', url: s.model.loaded?.source ?? s.model.url, progress: null,
              error: loadError(s.model.url, messageOfError(err)),
            },
          }));
        },
      );
  }

  return {
    model: { status: 'loading', url: '', progress: null, loaded: null, error: null },
    gpu: { status: 'pending', adapter: null, message: null },
    exporting: null,
    exportError: null,

    startModel() {
      trainHooks.onBroadcast = (e) => {
        // The runs' engines went with the device; their curves stay, and recover() continues from the saved step.
        if (e.kind === 'deviceLost') {
          set((s) => ({
            deviceLost: s.phase !== 'idle' && s.saved !== null,
            error: msg(s.saved ? 'model.deviceLostSaved' : 'model.deviceLostReload', { detail: e.msg ?? uncoded(e.message), ...(s.saved ? { step: s.saved.step } : {}) }),
            phase: s.phase === 'training' || s.phase === 'paused' || s.phase === 'starting' ? 'error' : s.phase,
          }));
        }
      };
      trainHooks.onCrash = (_message, m) => set((s) => ({ gpu: s.gpu.status === 'pending' ? { status: 'unavailable', adapter: null, message: m } : s.gpu }));
      trainWorker.request('gpu', {}).then(
        (adapter) => set({ gpu: { status: 'ok', adapter, message: null } }),
        (err: unknown) => set({ gpu: { status: 'unavailable', adapter: null, message: messageOfError(err) } }),
      );
      startLoad(new URLSearchParams(location.search).get('model') ?? EMBEDDED_MODEL, false);
    },
    loadModel(source) {
      const src = source.trim();
      const current = get().model.loaded;
      const fail = (error: Message) => set((s) => ({ model: { ...s.model, error } }));
      if (src === '') {
        fail(msg('model.enterSource', { embedded: EMBEDDED_MODEL, example: MODEL_SUGGESTIONS[0] }));
        return;
      }
      try {
        resolveModelSource(src);
      } catch (err) {
        fail(messageOfError(err));
        return;
      }
      if (current && current.source === src && get().model.status === 'ready') {
        fail(msg('model.alreadyLoaded', { name: current.name }));
        return;
      }
      const mine = ++checkingId;
      if (!get().runsExist()) {
        startLoad(src, true);
        return;
      }
      // Runs exist: ask to discard them only for a model that can load. Even then they stay until
      // it has loaded (keepRuns), so a failure later (download, GPU memory) costs nothing either.
      set((s) => ({ model: { ...s.model, error: null } }));
      void checkSource(src).then((error) => {
        if (mine !== checkingId) return; // the user pressed Load again
        if (error !== null) fail(error);
        else if (get().guard(() => startLoad(src, true), modelDiscardMessage(src), true)) startLoad(src, true);
      });
    },
    cancelLoad() {
      if (get().model.status !== 'loading') return;
      const cancelled = get().model.url;
      loadingId++;
      void trainWorker.request('cancelLoad', {});
      set((s) => ({
        model: {
          ...s.model, status: s.model.loaded ? 'ready' : 'error', url: s.model.loaded?.source ?? s.model.url, progress: null,
          error: msg('train.loadCancelled', { url: cancelled }),
        },
      }));
    },
    async exportRun(run, adapter = false) {
      const s = get();
      if (s.restored || (s.phase !== 'done' && s.phase !== 'stopped')) {
        throw new CodedError(msg('model.exportWhen'));
      }
      const spec = s.runs[run];
      const model = s.model.loaded;
      if (!spec || !model) throw new CodedError(msg('train.noSuchRun', { n: run + 1 }));
      set({ exporting: run, exportError: null });
      try {
        const files = await trainWorker.request('export', {
          run, adapter,
          metadata: { run: spec.name, mask_policy: JSON.stringify(spec.policy), loss_mode: spec.lossMode, training: JSON.stringify(spec.training ?? { mode: 'full' }), base_model: model.source, ...(s.hand ? { hand_overrides: JSON.stringify(s.hand) } : {}) },
        });
        set({ exporting: null });
        return files;
      } catch (err) {
        set({ exporting: null, exportError: msg('model.exportFailed', { name: spec.name, detail: messageOfError(err) }) });
        throw err;
      }
    },
  };
};
