// "Train and compare": model and GPU status, the runs and their masks, the optimizer, the controls,
// progress, live curves, the latest numbers, answers, share link and the discard dialog.
import { useStore } from '../../store';
import { Answers } from './Answers';
import { ConfirmDiscard } from './ConfirmDiscard';
import { LossChart } from './LossChart';
import { OptimizerForm } from './OptimizerForm';
import { RunsEditor } from './RunsEditor';
import { RunTable } from './RunTable';
import { TrainExplainer } from './TrainExplainer';
import { ModelStatus, TrainProgress } from './TrainStatus';

function Controls() {
  const phase = useStore((s) => s.phase);
  const modelReady = useStore((s) => s.model.status === 'ready');
  const gpuOk = useStore((s) => s.gpu.status !== 'unavailable');
  const hasRecord = useStore((s) => s.record !== null);
  const { train, pause, resume, stop, reset } = useStore.getState();
  const inputOk = useStore((s) => s.failure === null && !s.busy);
  const running = phase === 'training' || phase === 'paused' || phase === 'starting';
  return (
    <div className="train-controls" role="group" aria-label="Training controls">
      <button type="button" className="primary" onClick={train} disabled={!modelReady || !gpuOk || running || !inputOk} data-testid="train">
        {phase === 'idle' ? 'Train' : 'Train again'}
      </button>
      {phase === 'paused' ? (
        <button type="button" onClick={resume} data-testid="resume">
          Resume
        </button>
      ) : (
        <button type="button" onClick={pause} disabled={phase !== 'training'} data-testid="pause">
          Pause
        </button>
      )}
      <button type="button" onClick={stop} disabled={!running} data-testid="stop">
        Stop
      </button>
      <button type="button" onClick={reset} disabled={phase === 'idle' && !hasRecord} data-testid="reset">
        Reset
      </button>
      {!inputOk && <span className="muted small">Fix the sample above to train.</span>}
    </div>
  );
}

function Messages() {
  const error = useStore((s) => s.error);
  const warnings = useStore((s) => s.warnings);
  return (
    <>
      {error && (
        <p className="message error" role="alert" data-testid="train-error">
          {error}
        </p>
      )}
      {warnings.length > 0 && (
        <details className="message warn" data-testid="train-warnings" open={warnings.length <= 3}>
          <summary>
            {warnings.length} step{warnings.length === 1 ? '' : 's'} not plotted or not applied
          </summary>
          <ul>
            {warnings.slice(-50).map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </details>
      )}
    </>
  );
}

function ShareLink() {
  const share = useStore((s) => s.share);
  const makeShareLink = useStore((s) => s.makeShareLink);
  return (
    <div className="share">
      <button type="button" onClick={() => void makeShareLink()} data-testid="share">
        Share link
      </button>
      {share.message && (
        <span className="muted small" role="status">
          {share.message}
        </span>
      )}
      {share.url && <input className="share-url" readOnly value={share.url} data-testid="share-url" onFocus={(e) => e.currentTarget.select()} aria-label="Share link" />}
    </div>
  );
}

export function TrainPanel() {
  const runs = useStore((s) => s.runs);
  const phase = useStore((s) => s.phase);
  return (
    <section className="panel train-panel" aria-labelledby="train-h" data-phase={phase} data-testid="train-panel">
      <div className="panel-head">
        <h2 id="train-h">Train and compare</h2>
        <ShareLink />
      </div>
      <ModelStatus />
      <TrainExplainer />
      <RunsEditor />
      <OptimizerForm />
      <Controls />
      <Messages />
      <TrainProgress />
      {/* Mounted before training starts: building the chart is the costliest render here, and it
          must not land in the same task as the click on Train. */}
      <LossChart runs={runs} />
      <RunTable runs={runs} />
      <Answers runs={runs} />
      <ConfirmDiscard />
    </section>
  );
}
