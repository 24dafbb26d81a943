// The conversation up to its last assistant turn, completed greedily by the base model and by each
// run's current weights, side by side, next to the answer in the data.
import { memo } from 'react';
import { useTrain, type RunSpec } from '../../store/train';
import { MAX_ANSWER_TOKENS } from '../../worker/trainProtocol';
import { visibleWhitespace } from '../../data/whitespace';

export const Answers = memo(function Answers({ runs }: { runs: readonly RunSpec[] }) {
  const answers = useTrain((s) => s.answers);
  const busy = useTrain((s) => s.answersBusy);
  const error = useTrain((s) => s.answersError);
  const phase = useTrain((s) => s.phase);
  const restored = useTrain((s) => s.restored);
  const requestAnswers = useTrain((s) => s.requestAnswers);
  const answerTokens = useTrain((s) => s.answerTokens);
  const setAnswerTokens = useTrain((s) => s.setAnswerTokens);
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
          Greedy decoding of the shown sample, from its last assistant turn on.
          {phase === 'training' && ' Training holds while the runs answer.'}
          {restored && ' Saved answers from the finished training (the weights are not kept across reloads).'}
        </span>
      </div>
      {error && (
        <p className="message error" role="alert">
          {error}
        </p>
      )}
      {answers && (
        <>
          <p className="muted small">
            Sample {answers.sample + 1}, after step {answers.step}. Prompt ends with{' '}
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
