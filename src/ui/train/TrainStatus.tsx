// Model and GPU status (name, parameters, the model picker with its loading progress; adapter;
// CPU-fallback and no-WebGPU warnings) and the training progress line (step k of N, tokens/s, ms/step, time left).
import { useStore } from '../../store';
import { isEmbedded } from '../../store/slices/model';
import { describeAdapter } from '../../worker/trainProtocol';
import { ModelPicker } from './ModelPicker';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';
import type { TFunction } from 'i18next';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 1 : 0)} MiB`;

export function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function formatDuration(t: TFunction, sec: number): string {
  if (!Number.isFinite(sec)) return '—';
  if (sec < 60) return t('progress.seconds', { s: Math.ceil(sec) });
  const m = Math.floor(sec / 60);
  if (m < 60) return t('progress.minutes', { m, s: Math.round(sec - m * 60) });
  return t('progress.hours', { h: Math.floor(m / 60), m: m % 60 });
}

export function ModelStatus() {
  const model = useStore((s) => s.model);
  const gpu = useStore((s) => s.gpu);
  const m = model.loaded;
  const { t } = useTranslation('train');
  const say = useMessage();
  return (
    <div className="model-status">
      <div className="model-line" data-testid="model-status" data-status={model.status}>
        {m ? (
          <>
            <strong data-testid="model-name">{m.name}</strong>
            <span data-testid="model-params">{t('model.parameters', { n: formatParams(m.params) })}</span>
            <span className="muted small">
              {m.kind === 'hub' ? t('model.hub') : isEmbedded(m) ? t('model.embeddedKind') : m.url}
              {t('model.details', {
                layers: m.config.num_hidden_layers,
                width: m.config.hidden_size,
                vocab: m.config.vocab_size.toLocaleString(),
                positions: m.config.max_position_embeddings,
                size: mib(m.bytes),
              })}
            </span>
          </>
        ) : (
          <span className="muted">{model.status === 'loading' ? t('model.loadingModel') : t('model.noModel')}</span>
        )}
      </div>
      <ModelPicker />
      <div className="gpu-line" data-testid="gpu-status" data-status={gpu.status}>
        {gpu.status === 'ok' && gpu.adapter ? (
          <>
            <span className="muted small">{t('model.gpu')}</span> <span data-testid="gpu-name">{describeAdapter({ ...gpu.adapter, isFallbackAdapter: false })}</span>
            {gpu.adapter.isFallbackAdapter && (
              <p className="message warn" role="alert" data-testid="fallback-warning">
                <Trans t={t} i18nKey="model.fallback" components={{ strong: <strong />, code: <code /> }} />
              </p>
            )}
          </>
        ) : gpu.status === 'unavailable' ? (
          <p className="message error" role="alert" data-testid="no-webgpu">
            <strong>{t('model.noWebgpu')}</strong> {say(gpu.message)}
            {t('model.noWebgpuTail')}
          </p>
        ) : (
          <span className="muted small">{t('model.lookingForGpu')}</span>
        )}
      </div>
    </div>
  );
}

/** Runs whose prepared data holds no trained label (the worker's count at start): said once, not once per step. */
function UntrainedAtStart({ names }: { names: string[] }) {
  const { t } = useTranslation('train');
  if (names.length === 0) return null;
  return (
    <p className="message warn" role="status" data-testid="runs-untrained">
      {t('progress.untrained', { count: names.length, names: names.join(', ') })}
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
  const { t } = useTranslation('train');
  if (phase === 'idle') return null;
  if (phase === 'starting') {
    return (
      <p className="progress-line" data-testid="train-progress" role="status">
        <span className="spinner" aria-hidden="true" /> {t('progress.starting')}
      </p>
    );
  }
  if (!progress) return null;
  const pct = progress.total ? (100 * progress.step) / progress.total : 0;
  return (
    <div className="progress-block" data-testid="train-progress" data-step={progress.step} data-total={progress.total}>
      <div className="progress-line" role="status" aria-live="polite">
        <strong>
          <Trans t={t} i18nKey="progress.step" values={{ step: progress.step, total: progress.total }} components={{ step: <span data-testid="progress-step" /> }} />
        </strong>
        {phase === 'training' && (
          <>
            <span data-testid="tokens-per-sec">
              {progress.tokensPerSec !== null ? t('progress.tokensPerSec', { n: Math.round(progress.tokensPerSec).toLocaleString() }) : t('progress.tokensPerSecPending')}
            </span>
            <span>{progress.msPerStep !== null ? t('progress.msPerStep', { n: progress.msPerStep.toFixed(0) }) : t('progress.msPerStepPending')}</span>
            <span>{progress.etaSec !== null ? t('progress.left', { time: formatDuration(t, progress.etaSec) }) : t('progress.estimating')}</span>
          </>
        )}
        {phase === 'paused' && <span className="pill">{t('progress.paused')}</span>}
        {phase === 'done' && <span className="pill ok">{t('progress.finished')}</span>}
        {phase === 'stopped' && <span className="pill">{t('progress.stopped')}</span>}
        {phase === 'error' && <span className="pill bad">{t('progress.error')}</span>}
        {restored && <span className="pill">{t('progress.restored')}</span>}
      </div>
      <progress max={100} value={pct} className="step-bar" aria-label={t('progress.bar')} />
      {info && (
        <p className="muted small">
          {t('progress.samples', { count: info.samples })}
          {info.cutSamples > 0 && t('progress.cut', { n: info.cutSamples })}
          {t('progress.batch', { B: info.B, T: info.T, memory: mib(info.memoryBytes) })}
          {info.snapshotSteps.length > 0 && t('progress.snapshots', { steps: info.snapshotSteps.join(', ') })}
          {hand && t('progress.hand', { count: hand.tokens, sample: hand.sample + 1 })}
        </p>
      )}
      <UntrainedAtStart names={(info?.trainedPerRun ?? []).flatMap((n, r) => (n === 0 ? [runs[r]?.name ?? t('progress.runN', { n: r + 1 })] : []))} />
    </div>
  );
}
