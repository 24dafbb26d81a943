// The conversation up to its last assistant turn, completed by the base model and by each run's
// current weights, side by side, next to the answer in the data: greedy by default, or sampled
// (temperature, top-k, top-p, seed), each answer streamed as it is decoded.
import { useStore, type RunSpec } from '../../store';
import { memo } from 'react';
import { MAX_ANSWER_TOKENS } from '../../worker/trainProtocol';
import { SAMPLING_RANGE } from '../../store/slices/results';
import { visibleWhitespace } from '../../data/whitespace';
import { useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

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
  const { t } = useTranslation('train');
  const say = useMessage();
  const canAsk = !restored && (phase === 'training' || phase === 'paused' || phase === 'done' || phase === 'stopped');
  return (
    <section className="answers" aria-labelledby="answers-h" data-testid="answers">
      <div className="panel-head">
        <h3 id="answers-h">{t('answers.title')}</h3>
        <button type="button" onClick={requestAnswers} disabled={!canAsk || busy} data-testid="generate-answers">
          {busy ? t('answers.generating') : answers ? t('answers.again') : t('answers.generate')}
        </button>
        <label className="answer-length">
          {t('answers.upTo')}{' '}
          <input
            type="number"
            min={1}
            max={MAX_ANSWER_TOKENS}
            value={answerTokens}
            onChange={(e) => setAnswerTokens(Number(e.target.value))}
            data-testid="answer-tokens"
          />{' '}
          {t('answers.tokens')}
        </label>
        <span className="muted small">
          {sampling.temperature === 0 ? t('answers.greedy') : t('answers.sampling', { temperature: sampling.temperature, seed: sampling.seed })}
          {t('answers.ofSample')}
          {phase === 'training' && t('answers.holds')}
          {restored && t('answers.saved')}
        </span>
      </div>
      <fieldset className="sampling" data-testid="sampling">
        <legend className="small">{t('answers.decoding')}</legend>
        {(
          [
            // The store's error names the setting it is about (its params.key).
            ['temperature', 0.1],
            ['topK', 1],
            ['topP', 0.05],
            ['seed', 1],
          ] as const
        ).map(([key, step]) => (
          <label key={key} title={t(`answers.field.${key}.title`)}>
            {t(`answers.field.${key}.label`)}{' '}
            <input
              type="number"
              step={step}
              min={SAMPLING_RANGE[key].min}
              max={SAMPLING_RANGE[key].max}
              defaultValue={sampling[key]}
              aria-invalid={samplingError?.params?.key === key || undefined}
              aria-describedby={samplingError ? 'sampling-error' : undefined}
              onChange={(e) => e.target.value !== '' && setSampling({ [key]: Number(e.target.value) })}
              data-testid={`sampling-${key}`}
            />
          </label>
        ))}
        {samplingError && (
          <span id="sampling-error" className="message error small" role="alert">
            {say(samplingError)}
          </span>
        )}
      </fieldset>
      {busy && live && Object.keys(live).length > 0 && (
        <div className="answer-grid" aria-live="polite" data-testid="answers-live">
          {Object.entries(live).map(([r, text]) => {
            const run = Number(r) >= 0 ? runs[Number(r)] : null;
            return (
              <figure key={r} className="answer" style={run ? { borderColor: run.color } : undefined}>
                <figcaption>{run ? run.name : t('answers.base')} <span className="muted small">{t('answers.decodingNow')}</span></figcaption>
                <p className="answer-text">{text}</p>
              </figure>
            );
          })}
        </div>
      )}
      {error && (
        <p className="message error" role="alert">
          {say(error)}
        </p>
      )}
      {answers && (
        <>
          <p className="muted small">
            {t('answers.after', { sample: answers.sample + 1, step: answers.step })}
            {answers.sampling && answers.sampling.temperature > 0
              ? t('answers.sampledAt', { temperature: answers.sampling.temperature, topK: answers.sampling.topK, topP: answers.sampling.topP, seed: answers.sampling.seed })
              : t('answers.greedyShort')}
            {t('answers.promptEnds')}
            <code>{visibleWhitespace(answers.prompt.slice(-40))}</code>
          </p>
          <div className="answer-grid">
            {answers.reference !== null && (
              <figure className="answer reference" data-testid="answer-reference">
                <figcaption>{t('answers.inData')}</figcaption>
                <p>{answers.reference}</p>
              </figure>
            )}
            {answers.answers.map((a) => {
              const run = a.run >= 0 ? runs[a.run] : null;
              return (
                <figure key={a.run} className="answer" style={run ? { borderColor: run.color } : undefined} data-testid={a.run < 0 ? 'answer-base' : `answer-run-${a.run}`}>
                  <figcaption>
                    {run ? run.name : t('answers.base')}{' '}
                    <span className="muted small">
                      {t('answers.meta', { tokens: a.tokens, how: a.stoppedBy === 'stop token' ? t('answers.stopped') : t('answers.limit'), ms: Math.round(a.ms) })}
                    </span>
                  </figcaption>
                  <p className="answer-text">{a.text === '' ? <span className="muted">{t('answers.empty')}</span> : a.text}</p>
                </figure>
              );
            })}
          </div>
        </>
      )}
    </section>
  );
});
