// The conversation up to its last assistant turn, completed by the base model and by each run's
// current weights, side by side, next to the answer in the data: greedy by default, or sampled
// (temperature, top-k, top-p, seed), each answer streamed as it is decoded.
import { useStore, type RunSpec } from '../../store';
import { memo } from 'react';
import { MAX_ANSWER_TOKENS } from '../../worker/trainProtocol';
import { SAMPLING_RANGE } from '../../store/slices/results';
import { visibleWhitespace } from '../../data/whitespace';

export const Answers = memo(function Answers({ runs }: { runs: readonly RunSpec[] }) {
  const answers = useStore((s) => s.answers);
  const busy = useStore((s) => s.answersBusy);
  const error = useStore((s) => s.answersError);
  const phase = useStore((s) => s.phase);
  const restored = useStore((s) => s.restored);
  const requestAnswers = useStore((s) => s.requestAnswers);
  const answerTokens = useStore((s) => s.answerTokens);
  const setAnswerTokens = useStore((s) => s.setAnswerTokens);
  const sampling = useStore((s) => s.sampling);
  const samplingError = useStore((s) => s.samplingError);
  const setSampling = useStore((s) => s.setSampling);
  const live = useStore((s) => s.answersLive);
  const canAsk = !restored && (phase === 'training' || phase === 'paused' || phase === 'done' || phase === 'stopped');
  return (
    <section className="answers" aria-labelledby="answers-h" data-testid="answers">
      <div className="panel-head">
        <h3 id="answers-h">Answers</h3>
        <button type="button" onClick={requestAnswers} disabled={!canAsk || busy} data-testid="generate-answers">
          {busy ? 'Generating…' : answers ? 'Generate again' : 'Generate answers'}
        </button>
        <label className="answer-length">
          up to{' '}
          <input
            type="number"
            min={1}
            max={MAX_ANSWER_TOKENS}
            value={answerTokens}
            onChange={(e) => setAnswerTokens(Number(e.target.value))}
            data-testid="answer-tokens"
          />{' '}
          tokens
        </label>
        <span className="muted small">
          {sampling.temperature === 0 ? 'Greedy decoding' : `Sampling at temperature ${sampling.temperature} (seed ${sampling.seed})`} of the shown sample, from its last assistant turn on.
          {phase === 'training' && ' Training holds while the runs answer.'}
          {restored && ' Saved answers from the finished training.'}
        </span>
      </div>
      <fieldset className="sampling" data-testid="sampling">
        <legend className="small">Decoding</legend>
        {(
          [
            ['temperature', 'temperature', 0.1, 'temperature: 0 = greedy'],
            ['topK', 'top-k', 1, 'top-k: 0 = every token'],
            ['topP', 'top-p', 0.05, 'top-p: 1 = every token'],
            ['seed', 'seed', 1, 'seed of the sampler'],
          ] as const
        ).map(([key, label, step, title]) => (
          <label key={key} title={title}>
            {label}{' '}
            <input
              type="number"
              step={step}
              min={SAMPLING_RANGE[key].min}
              max={SAMPLING_RANGE[key].max}
              defaultValue={sampling[key]}
              aria-invalid={samplingError?.toLowerCase().startsWith(label) || undefined}
              aria-describedby={samplingError ? 'sampling-error' : undefined}
              onChange={(e) => e.target.value !== '' && setSampling({ [key]: Number(e.target.value) })}
              data-testid={`sampling-${key}`}
            />
          </label>
        ))}
        {samplingError && (
          <span id="sampling-error" className="message error small" role="alert">
            {samplingError}
          </span>
        )}
      </fieldset>
      {busy && live && Object.keys(live).length > 0 && (
        <div className="answer-grid" aria-live="polite" data-testid="answers-live">
          {Object.entries(live).map(([r, text]) => {
            const run = Number(r) >= 0 ? runs[Number(r)] : null;
            return (
              <figure key={r} className="answer" style={run ? { borderColor: run.color } : undefined}>
                <figcaption>{run ? run.name : 'Base model (before training)'} <span className="muted small">decoding…</span></figcaption>
                <p className="answer-text">{text}</p>
              </figure>
            );
          })}
        </div>
      )}
      {error && (
        <p className="message error" role="alert">
          {error}
        </p>
      )}
      {answers && (
        <>
          <p className="muted small">
            Sample {answers.sample + 1}, after step {answers.step},{' '}
            {answers.sampling && answers.sampling.temperature > 0
              ? `sampled at temperature ${answers.sampling.temperature}, top-k ${answers.sampling.topK}, top-p ${answers.sampling.topP}, seed ${answers.sampling.seed}`
              : 'greedy'}
            . Prompt ends with{' '}
            <code>{visibleWhitespace(answers.prompt.slice(-40))}</code>
          </p>
          <div className="answer-grid">
            {answers.reference !== null && (
              <figure className="answer reference" data-testid="answer-reference">
                <figcaption>In the data</figcaption>
                <p>{answers.reference}</p>
              </figure>
            )}
            {answers.answers.map((a) => {
              const run = a.run >= 0 ? runs[a.run] : null;
              return (
                <figure key={a.run} className="answer" style={run ? { borderColor: run.color } : undefined} data-testid={a.run < 0 ? 'answer-base' : `answer-run-${a.run}`}>
                  <figcaption>
                    {run ? run.name : 'Base model (before training)'}{' '}
                    <span className="muted small">
                      {a.tokens} tokens, {a.stoppedBy === 'stop token' ? 'stopped' : 'hit the limit'}, {Math.round(a.ms)} ms
                    </span>
                  </figcaption>
                  <p className="answer-text">{a.text === '' ? <span className="muted">(empty: it ended the turn at once)</span> : a.text}</p>
                </figure>
              );
            })}
          </div>
        </>
      )}
    </section>
  );
});
