// Where the shown runs' weights are kept across reloads (the browser's private file system), how
// much space they take, and what to do when something went wrong: a checkpoint that could not be
// written, or a GPU device that was lost under the runs (Recover continues from the saved step).
import { memo } from 'react';
import { useStore } from '../../store';
import { useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export const SavedWeights = memo(function SavedWeights() {
  const saved = useStore((s) => s.saved);
  const steps = useStore((s) => s.optimizer.steps);
  const phase = useStore((s) => s.phase);
  const checkpointError = useStore((s) => s.checkpointError);
  const deviceLost = useStore((s) => s.deviceLost);
  const recover = useStore((s) => s.recover);
  const forgetWeights = useStore((s) => s.forgetWeights);
  const continueTraining = useStore((s) => s.continueTraining);
  const restored = useStore((s) => s.restored);
  const live = phase === 'training' || phase === 'paused' || phase === 'starting';
  const { t } = useTranslation('train');
  const say = useMessage();
  if (!saved && !checkpointError && !deviceLost) return null;
  return (
    <div className="saved-weights" data-testid="saved-weights" data-step={saved?.step ?? ''}>
      {saved && (
        <p className="small">
          {t('saved.at', { step: saved.step, steps, size: mib(saved.bytes) })}
          {saved.forgotten.length > 0 && t('saved.forgotten', { count: saved.forgotten.length })}.{' '}
          {live ? t('saved.live') : t('saved.reload')}{' '}
          <button type="button" className="small link" disabled={live} onClick={() => forgetWeights(null)} data-testid="forget-all-weights">
            {t('saved.forgetAll')}
          </button>
        </p>
      )}
      {saved && phase === 'stopped' && !restored && saved.step < steps && (
        <p className="small">
          <button type="button" onClick={continueTraining} data-testid="continue-training">
            {t('saved.continue', { step: saved.step })}
          </button>
        </p>
      )}
      {checkpointError && (
        <p className="message warning small" role="status" data-testid="checkpoint-error">
          {say(checkpointError)}
        </p>
      )}
      {deviceLost && (
        <p className="message error" role="alert">
          {t('saved.lost')}{' '}
          <button type="button" onClick={recover} data-testid="recover">
            {t('saved.recover', { step: saved?.step ?? 0 })}
          </button>
        </p>
      )}
    </div>
  );
});
