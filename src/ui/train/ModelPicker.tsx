// Pick the model to train: a folder URL (Hugging Face layout, served by this page's server) or a
// Hub repo id, with suggestions; download progress (bytes and %) with Cancel; the reason a load
// failed next to the field (the model in use stays); a way back to the embedded model.
import { useStore, type LoadProgress } from '../../store';
import { EMBEDDED_MODEL, MODEL_SUGGESTIONS, isEmbedded } from '../../store/slices/model';
import { memo, useId, useState } from 'react';
import './ModelPicker.css';

const MIB = 2 ** 20;
const size = (b: number) => (b < MIB ? `${(b / 1024).toFixed(1)} KiB` : `${(b / MIB).toFixed(1)} MiB`);

function Progress({ p }: { p: LoadProgress | null }) {
  const fraction = p && p.total ? p.loaded / p.total : null;
  return (
    <div className="model-progress">
      {/* No value = indeterminate (before the first byte, or a file of unknown size). */}
      <progress className="load-bar" data-testid="model-progress" max={1} value={fraction ?? undefined} aria-label="Model download" />
      {p && (
        <span className="muted small" data-testid="model-progress-text">
          {p.file}: {size(p.loaded)}
          {p.total !== null && ` of ${size(p.total)} (${Math.floor((100 * p.loaded) / Math.max(1, p.total))}%)`}
          {p.cached && ' from the browser cache'} · {size(p.bytesReceived)} in all
        </span>
      )}
    </div>
  );
}

export const ModelPicker = memo(function ModelPicker() {
  const model = useStore((s) => s.model);
  const loadModel = useStore((s) => s.loadModel);
  const cancelLoad = useStore((s) => s.cancelLoad);
  const [draft, setDraft] = useState('');
  const id = useId();
  const loading = model.status === 'loading';
  const onEmbedded = model.loaded !== null && isEmbedded(model.loaded) && !(loading && model.url !== EMBEDDED_MODEL);
  return (
    <div className="model-picker" data-testid="model-picker">
      <form
        className="model-form"
        onSubmit={(e) => {
          e.preventDefault();
          loadModel(draft);
        }}
      >
        <label htmlFor={`${id}-src`}>Model</label>
        <input
          id={`${id}-src`}
          className="model-source"
          list={`${id}-list`}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="Hub repo id or folder URL"
          spellCheck={false}
          autoComplete="off"
          aria-describedby={`${id}-hint`}
          aria-invalid={model.error !== null}
          data-testid="model-source"
        />
        <datalist id={`${id}-list`} data-testid="model-suggestions">
          {MODEL_SUGGESTIONS.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <button type="submit" data-testid="model-load">
          Load
        </button>
        {loading && model.loaded && (
          <button type="button" onClick={cancelLoad} data-testid="model-cancel">
            Cancel
          </button>
        )}
        {!onEmbedded && (
          <button type="button" className="link" onClick={() => loadModel(EMBEDDED_MODEL)} data-testid="model-embedded">
            back to the embedded model
          </button>
        )}
      </form>
      <p className="hint" id={`${id}-hint`}>
        A Hugging Face repo id (e.g. {MODEL_SUGGESTIONS[0]}) downloads from huggingface.co: it needs the network, then stays
        in this browser's cache. A folder URL ending in <code>/</code> reads a model folder served with this page (
        <code>config.json</code>, <code>model.safetensors</code>, <code>tokenizer.json</code>, <code>tokenizer_config.json</code>).
        LLaMA, Qwen2 and Mistral architectures train here. The embedded model needs no network.
      </p>
      {loading && (
        <div className="model-loading" role="status">
          <span>Loading {model.url}…</span>
          <Progress p={model.progress} />
        </div>
      )}
      {model.error && (
        <p className="message error" role="alert" data-testid="model-error">
          {model.error}
          {model.loaded && ` Still using ${model.loaded.name}.`}
        </p>
      )}
      {model.loaded?.memoryNote && (
        <p className="message warn" data-testid="model-memory">
          {model.loaded.memoryNote}
        </p>
      )}
      {model.loaded && model.loaded.notes.length > 0 && (
        <ul className="notes" data-testid="model-notes">
          {model.loaded.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
});
