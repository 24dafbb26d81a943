// The loss arithmetic panel: one run's objective on the shown sample written out, one row per
// token (target, label, p(target), −log p or "skipped", weight), then the sum, the divisor and the
// result by loss.ts's rules (src/spec/lossArithmetic.ts). The numbers come from the training
// worker's evaluate (the heatmap's request: a forward pass without update). The objective step
// k + 1 reported was computed on exactly the weights after step k, so that is the one compared.
// Long samples: only the rows in view are in the DOM (a fixed row height and spacer rows).
import { memo, useId, useMemo, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';
import { useStore } from '../../store';
import { IGNORE_INDEX } from '../../spec/loss';
import { lossArithmetic, NOTHING_TO_TRAIN, type LossArithmetic as Arithmetic } from '../../spec/lossArithmetic';
import type { HeatmapData } from '../../worker/trainProtocol';
import type { TokenColumns } from '../../worker/dataProtocol';

const ROW_PX = 26;
const TABLE_PX = 360;
/** Up to this many rows are all rendered; longer samples render the rows in view. */
const ALL_ROWS = 300;
/** Rows rendered above and below the ones in view. */
const OVERSCAN = 8;
/** The result matches the reported objective within this relative difference (f32 sums on the GPU). */
export const MATCH_RTOL = 1e-5;

const num = (v: number, digits = 6) => (Number.isFinite(v) ? (Math.abs(v) >= 1e-4 || v === 0 ? v.toFixed(digits) : v.toExponential(3)) : '—');
/** A weight as the user set it (f32 0.3 is 0.30000001). */
const weight = (w: number) => String(Number(w.toPrecision(6)));
/** Token text with its invisible characters shown. */
const visible = (s: string) => s.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·');

/** Text of each token: the token view's columns when they are the same tokens, else the worker's token table. */
export function tokenTexts(h: HeatmapData, tokens: TokenColumns | null): string[] {
  const L = h.ids.length;
  const same = tokens !== null && tokens.ids.length >= L && h.ids.every((id, i) => tokens.ids[i] === id);
  return Array.from({ length: L }, (_, i) => (same ? tokens.rendered.slice(tokens.starts[i], tokens.ends[i]) : h.pieces[i]));
}

export function relativeDifference(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

const Rows = memo(function Rows({ a, texts }: { a: Arithmetic; texts: string[] }) {
  const { t } = useTranslation('arith');
  const [top, setTop] = useState(0);
  const n = a.rows.length;
  const virtual = n > ALL_ROWS;
  const first = virtual ? Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN) : 0;
  const last = virtual ? Math.min(n, first + Math.ceil(TABLE_PX / ROW_PX) + 2 * OVERSCAN) : n;
  return (
    <div
      className="loss-arith-scroll" style={{ maxHeight: TABLE_PX }} onScroll={(e) => setTop(e.currentTarget.scrollTop)}
      tabIndex={0} role="region" aria-label={t('tableLabel')} data-testid="loss-arith-table"
    >
      <table className="loss-arith-table" aria-rowcount={n + 1}>
        <thead>
          <tr>
            <th scope="col">{t('colIndex')}</th>
            <th scope="col">{t('colToken')}</th>
            <th scope="col">{t('colLabel')}</th>
            <th scope="col">{t('colP')}</th>
            <th scope="col">{t('colTerm')}</th>
            <th scope="col">{t('colWeight')}</th>
          </tr>
        </thead>
        <tbody>
          {first > 0 && (
            <tr aria-hidden="true" style={{ height: first * ROW_PX }}>
              <td colSpan={6} />
            </tr>
          )}
          {a.rows.slice(first, last).map((r) => (
            <tr
              key={r.index} style={{ height: ROW_PX }} aria-rowindex={r.index + 2} data-testid="loss-arith-row" data-index={r.index}
              data-label={r.label} data-term={r.term === 'skipped' ? 'skipped' : r.term} data-weight={r.weight}
              className={r.term === 'skipped' ? 'skipped' : undefined}
            >
              <td>{r.index}</td>
              <td>
                <code>{visible(texts[r.index])}</code>
              </td>
              <td>{r.label === IGNORE_INDEX ? <code>-100</code> : r.label}</td>
              <td>{num(r.p, 4)}</td>
              <td title={r.term === 'skipped' ? t(r.index === 0 ? 'firstToken' : 'ignored') : undefined}>{r.term === 'skipped' ? t('skipped') : num(r.term, 4)}</td>
              <td>{weight(r.weight)}</td>
            </tr>
          ))}
          {last < n && (
            <tr aria-hidden="true" style={{ height: (n - last) * ROW_PX }}>
              <td colSpan={6} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
});

function Totals({ a, h }: { a: Arithmetic; h: HeatmapData }) {
  const { t } = useTranslation('arith');
  const b = { b: <b /> };
  const unit = a.rows.every((r) => r.term === 'skipped' || r.weight === 1);
  const divisorKey = a.mode === 'sum' ? 'divisorSum' : a.mode === 'mean_sequences' ? 'divisorSequences' : unit ? 'divisorCount' : 'divisorTokens';
  const next = h.step + 1;
  const o = h.objective;
  const result = a.result;
  const diff = o && typeof result === 'number' ? relativeDifference(result, o.value) : null;
  return (
    <div className="loss-arith-totals">
      <p data-testid="loss-arith-sum" data-value={a.sum}>
        <Trans t={t} i18nKey="sum" values={{ tokens: a.trainedTokens, sum: num(a.sum) }} components={b} />
      </p>
      <p data-testid="loss-arith-divisor" data-value={a.divisor}>
        <Trans t={t} i18nKey={divisorKey} values={{ divisor: a.mode === 'mean_tokens' && unit ? String(a.divisor) : num(a.divisor) }} components={b} />
      </p>
      <p data-testid="loss-arith-result" data-value={result === NOTHING_TO_TRAIN ? '' : result} data-nothing={result === NOTHING_TO_TRAIN || undefined}>
        {result === NOTHING_TO_TRAIN ? (
          <Trans t={t} i18nKey="nothing" components={b} />
        ) : (
          <Trans t={t} i18nKey="result" values={{ sum: num(a.sum), divisor: num(a.divisor), result: num(result) }} components={b} />
        )}
      </p>
      <div className="loss-arith-objective" data-testid="loss-arith-objective" data-step={o?.step} data-value={o?.value} data-match={diff === null || !o?.batchIsSample ? undefined : String(diff <= MATCH_RTOL)}>
        <p className="small">{t('whichWeights', { step: h.step, next })}</p>
        {o ? (
          <p className="small">
            {o.status === 'no trained tokens' ? t('reportedNothing', { next }) : <Trans t={t} i18nKey="reported" values={{ next, objective: num(o.value) }} components={b} />}{' '}
            {!o.batchIsSample ? t('otherBatch') : diff === null ? null : t(diff <= MATCH_RTOL ? 'match' : 'mismatch', { diff: diff.toExponential(1) })}
          </p>
        ) : (
          <p className="small">{t('noReport', { next })}</p>
        )}
      </div>
    </div>
  );
}

export function LossArithmetic() {
  const { t } = useTranslation('arith');
  const say = useMessage();
  const phase = useStore((s) => s.phase);
  const restored = useStore((s) => s.restored);
  const runs = useStore((s) => s.runs);
  const snapshots = useStore((s) => s.snapshots);
  const info = useStore((s) => s.info);
  const run = useStore((s) => s.arithRun);
  const at = useStore((s) => s.arithAt);
  const stored = useStore((s) => s.arith);
  const storedFor = useStore((s) => s.arithFor);
  const busy = useStore((s) => s.arithBusy);
  const error = useStore((s) => s.arithError);
  const sampleIndex = useStore((s) => s.sampleIndex);
  const tokens = useStore((s) => s.tokens);
  const { setArith, requestArith } = useStore.getState();
  const runId = useId();
  // A table from an earlier training is not shown (its weights are gone).
  const h = stored && storedFor === info ? stored : null;
  const a = useMemo(() => (h ? lossArithmetic({ ids: h.ids, labels: h.labels, weights: h.weights, loss: h.loss, mode: h.lossMode }) : null), [h]);
  const texts = useMemo(() => (h ? tokenTexts(h, tokens) : []), [h, tokens]);
  if (phase === 'idle') return null;
  const off = phase === 'starting' || restored;
  return (
    <section className="loss-arith" aria-labelledby={`${runId}-h`} data-testid="loss-arith" data-rows={a?.rows.length} data-run={h?.run} data-step={h?.step}>
      <h3 id={`${runId}-h`}>{t('title')}</h3>
      <p className="muted small">{t('intro')}</p>
      <p className="small" data-testid="loss-arith-rule">
        {t('rule')}
      </p>
      <div className="heatmap-row">
        <span className="heat-field" aria-hidden="true">
          {t('run')}
        </span>
        <select aria-label={t('runLabel')} value={Math.min(run, runs.length - 1)} onChange={(e) => setArith({ arithRun: Number(e.target.value) })} disabled={off} data-testid="loss-arith-run">
          {runs.map((r, i) => (
            <option key={r.id} value={i}>
              {r.name}
            </option>
          ))}
        </select>
        <span className="heat-field" aria-hidden="true">
          {t('weights')}
        </span>
        <select aria-label={t('weightsLabel')} value={String(at)} onChange={(e) => setArith({ arithAt: e.target.value === 'current' ? 'current' : Number(e.target.value) })} disabled={off} data-testid="loss-arith-at">
          <option value="current">{t('current')}</option>
          <option value="0">{t('base')}</option>
          {snapshots.map((s) => (
            <option key={s} value={s}>
              {t('step', { step: s })}
            </option>
          ))}
        </select>
        <button type="button" onClick={requestArith} disabled={off || busy} data-testid="loss-arith-show">
          {busy ? t('evaluating') : h ? t('refresh') : t('show')}
        </button>
      </div>
      {off && <p className="muted small">{restored ? t('restored') : t('off')}</p>}
      {error && (
        <p className="message error" role="alert">
          {say(error)}
        </p>
      )}
      {h && h.sample !== sampleIndex && <p className="message info">{t('otherSample', { sample: h.sample + 1, shown: sampleIndex + 1 })}</p>}
      {h && a && (
        <figure className="loss-arith-figure">
          <figcaption>{t('caption', { sample: h.sample + 1, run: runs[h.run]?.name ?? h.run + 1, step: h.step })}</figcaption>
          <Rows a={a} texts={texts} />
          <Totals a={a} h={h} />
        </figure>
      )}
    </section>
  );
}
