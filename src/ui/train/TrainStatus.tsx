// Model and GPU status (name, parameters, the model picker with its loading progress; adapter;
// CPU-fallback and no-WebGPU warnings) and the training progress line (step k of N, tokens/s, ms/step, time left).
import { useStore } from '../../store';
import { isEmbedded } from '../../store/slices/model';
import { describeAdapter } from '../../worker/trainProtocol';
import { ModelPicker } from './ModelPicker';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 1 : 0)} MiB`;

export function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '—';
  if (sec < 60) return `${Math.ceil(sec)} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m} min ${Math.round(sec - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function ModelStatus() {
  const model = useStore((s) => s.model);
  const gpu = useStore((s) => s.gpu);
  const m = model.loaded;
  return (
    <div className="model-status">
      <div className="model-line" data-testid="model-status" data-status={model.status}>
        {m ? (
          <>
            <strong data-testid="model-name">{m.name}</strong>
            <span data-testid="model-params">{formatParams(m.params)} parameters</span>
            <span className="muted small">
              {m.kind === 'hub' ? 'Hugging Face Hub' : isEmbedded(m) ? 'embedded' : m.url} · {m.config.num_hidden_layers} layers · width {m.config.hidden_size} · vocab{' '}
              {m.config.vocab_size.toLocaleString()} · context {m.config.max_position_embeddings} · {mib(m.bytes)} float32
            </span>
          </>
        ) : (
          <span className="muted">{model.status === 'loading' ? 'Loading the model…' : 'No model is loaded: pick one below.'}</span>
        )}
      </div>
      <ModelPicker />
      <div className="gpu-line" data-testid="gpu-status" data-status={gpu.status}>
        {gpu.status === 'ok' && gpu.adapter ? (
          <>
            <span className="muted small">GPU:</span> <span data-testid="gpu-name">{describeAdapter({ ...gpu.adapter, isFallbackAdapter: false })}</span>
            {gpu.adapter.isFallbackAdapter && (
              <p className="message warn" role="alert" data-testid="fallback-warning">
                <strong>This is a CPU adapter (software WebGPU), not your GPU.</strong> Training works but runs tens to
                hundreds of times slower. Enable hardware acceleration (chrome://gpu shows the WebGPU status) or try another
                browser.
              </p>
            )}
          </>
        ) : gpu.status === 'unavailable' ? (
          <p className="message error" role="alert" data-testid="no-webgpu">
            <strong>Training needs WebGPU, which this browser does not offer.</strong> {gpu.message} The token view above
            works without it.
          </p>
        ) : (
          <span className="muted small">Looking for a GPU…</span>
        )}
      </div>
    </div>
  );
}

/** Runs whose prepared data holds no trained label (the worker's count at start): said once, not once per step. */
function UntrainedAtStart({ names }: { names: string[] }) {
  if (names.length === 0) return null;
  const one = names.length === 1;
  return (
    <p className="message warn" role="status" data-testid="runs-untrained">
      {one ? `${names[0]} has` : `${names.join(', ')} have`} no trained token in the data (every label is -100 after the mask and
      the context cut), so {one ? 'its' : 'their'} steps update nothing and {one ? 'its curve stays' : 'their curves stay'} empty.
    </p>
  );
}

export function TrainProgress() {
  const runs = useStore((s) => s.runs);
  const progress = useStore((s) => s.progress);
  const phase = useStore((s) => s.phase);
  const info = useStore((s) => s.info);
  const restored = useStore((s) => s.restored);
  const hand = useStore((s) => s.hand);
  if (phase === 'idle') return null;
  if (phase === 'starting') {
    return (
      <p className="progress-line" data-testid="train-progress" role="status">
        <span className="spinner" aria-hidden="true" /> Tokenizing the data and building one engine per run…
      </p>
    );
  }
  if (!progress) return null;
  const pct = progress.total ? (100 * progress.step) / progress.total : 0;
  return (
    <div className="progress-block" data-testid="train-progress" data-step={progress.step} data-total={progress.total}>
      <div className="progress-line" role="status" aria-live="polite">
        <strong>
          step <span data-testid="progress-step">{progress.step}</span> of {progress.total}
        </strong>
        {phase === 'training' && (
          <>
            <span data-testid="tokens-per-sec">{progress.tokensPerSec !== null ? `${Math.round(progress.tokensPerSec).toLocaleString()} tokens/s` : '… tokens/s'}</span>
            <span>{progress.msPerStep !== null ? `${progress.msPerStep.toFixed(0)} ms/step` : '… ms/step'}</span>
            <span>{progress.etaSec !== null ? `${formatDuration(progress.etaSec)} left` : 'estimating time left…'}</span>
          </>
        )}
        {phase === 'paused' && <span className="pill">paused</span>}
        {phase === 'done' && <span className="pill ok">finished</span>}
        {phase === 'stopped' && <span className="pill">stopped</span>}
        {phase === 'error' && <span className="pill bad">error</span>}
        {restored && <span className="pill">restored from this browser</span>}
      </div>
      <progress max={100} value={pct} className="step-bar" aria-label="Training progress" />
      {info && (
        <p className="muted small">
          {info.samples} sample{info.samples === 1 ? '' : 's'}
          {info.cutSamples > 0 && ` (${info.cutSamples} cut at the context length)`} · batch {info.B} × {info.T} tokens · about{' '}
          {mib(info.memoryBytes)} of GPU memory for all runs
          {info.snapshotSteps.length > 0 && ` · weights kept at steps ${info.snapshotSteps.join(', ')} for the heatmap`}
          {hand && ` · ${hand.tokens} hand override${hand.tokens === 1 ? '' : 's'} on sample ${hand.sample + 1}, applied to every run`}
        </p>
      )}
      <UntrainedAtStart names={(info?.trainedPerRun ?? []).flatMap((n, r) => (n === 0 ? [runs[r]?.name ?? `Run ${r + 1}`] : []))} />
    </div>
  );
}
