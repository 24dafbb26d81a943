// Per-token heatmap on the token view: pick a run, the weights (current, base, or a kept step) and
// what to colour by. The numbers come from the training worker (a forward and a backward pass
// without update); cells are built once per result and metric, so chips re-render once, not per step.
import { useStore, type HeatMetric } from '../../store';
import { useMemo } from 'react';
import type { HeatmapData } from '../../worker/trainProtocol';
import type { TokenColumns } from '../../worker/dataProtocol';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

/** What one chip shows and carries in its data-* attributes. */
export interface HeatCell {
  /** 0..1: the chosen metric scaled by its maximum over the sample (probability: as is). */
  intensity: number;
  /** -log p(token | earlier tokens); NaN for token 0. */
  loss: number;
  prob: number;
  dlogit: number;
  dembed: number;
  /** The run's label for this token (-100 = masked). */
  label: number;
}

/** The metrics, in the picker's order (titles: train:heatmap.metric.<metric>). */
const METRICS: readonly HeatMetric[] = ['loss', 'prob', 'dlogit', 'dembed'];

function value(h: HeatmapData, metric: HeatMetric, i: number): number {
  if (metric === 'loss') return h.loss[i];
  if (metric === 'prob') return Math.exp(-h.loss[i]);
  if (metric === 'dlogit') return h.dlogit[i];
  return h.dembed[i];
}

/**
 * Cells for the token view's chips, or null when the heatmap belongs to another sample or another
 * tokenization (the ids must match token for token; the heatmap may cover only the first L tokens).
 */
export function heatCells(h: HeatmapData | null, metric: HeatMetric, tokens: TokenColumns | null, sampleIndex: number): (HeatCell | undefined)[] | null {
  if (!h || !tokens || h.sample !== sampleIndex) return null;
  const L = h.ids.length;
  if (L > tokens.ids.length) return null;
  for (let i = 0; i < L; i++) if (h.ids[i] !== tokens.ids[i]) return null;
  let max = 0;
  for (let i = 0; i < L; i++) {
    const v = value(h, metric, i);
    if (Number.isFinite(v)) max = Math.max(max, v);
  }
  const scale = metric === 'prob' ? 1 : max > 0 ? 1 / max : 0;
  const cells: (HeatCell | undefined)[] = new Array(tokens.ids.length);
  for (let i = 0; i < L; i++) {
    const v = value(h, metric, i);
    cells[i] = {
      intensity: Number.isFinite(v) ? Math.min(1, v * scale) : 0,
      loss: h.loss[i], prob: Math.exp(-h.loss[i]), dlogit: h.dlogit[i], dembed: h.dembed[i], label: h.labels[i],
    };
  }
  return cells;
}

/** The heat cells for the token view, or null. */
export function useHeatCells(tokens: TokenColumns | null): (HeatCell | undefined)[] | null {
  const heatmap = useStore((s) => s.heatmap);
  const metric = useStore((s) => s.heatMetric);
  const sampleIndex = useStore((s) => s.sampleIndex);
  return useMemo(() => heatCells(heatmap, metric, tokens, sampleIndex), [heatmap, metric, tokens, sampleIndex]);
}

/** `chipsShowIt`: the token view's chips carry the current heat cells (the badge, which tests and
 *  people read as "shown", waits for them). */
export function HeatmapControls({ tokens, chipsShowIt }: { tokens: TokenColumns; chipsShowIt: boolean }) {
  const phase = useStore((s) => s.phase);
  const restored = useStore((s) => s.restored);
  const runs = useStore((s) => s.runs);
  const snapshots = useStore((s) => s.snapshots);
  const heatRun = useStore((s) => s.heatRun);
  const heatAt = useStore((s) => s.heatAt);
  const metric = useStore((s) => s.heatMetric);
  const heatmap = useStore((s) => s.heatmap);
  const busy = useStore((s) => s.heatBusy);
  const error = useStore((s) => s.heatError);
  const { setHeat, requestHeatmap, clearHeatmap } = useStore.getState();
  const sampleIndex = useStore((s) => s.sampleIndex);
  const overrideCount = useStore((s) => Object.keys(s.overrides).length);
  const hand = useStore((s) => s.hand);
  const cells = useHeatCells(tokens);
  const { t } = useTranslation('train');
  const say = useMessage();
  // Always laid out (disabled without runs), so starting a training does not move the token view.
  const off = phase === 'idle' || phase === 'starting' || restored;
  const why = restored ? t('heatmap.restored') : off ? t('heatmap.off') : t('heatmap.pick');
  const mismatch = heatmap !== null && cells === null;
  return (
    <div className="heatmap-bar" data-testid="heatmap-controls" role="group" aria-label={t('heatmap.label')} data-off={off || undefined}>
      <div className="heatmap-row">
        <strong>{t('heatmap.label')}</strong>
        <span className="heat-field">
          <span aria-hidden="true">{t('heatmap.run')}</span>
          <select aria-label={t('heatmap.runLabel')} value={heatRun} onChange={(e) => setHeat({ heatRun: Number(e.target.value) })} data-testid="heat-run" disabled={off}>
            {runs.map((r, i) => (
              <option key={r.id} value={i}>
                {r.name}
              </option>
            ))}
          </select>
        </span>
        <span className="heat-field">
          <span aria-hidden="true">{t('heatmap.weights')}</span>
          <select aria-label={t('heatmap.weightsLabel')} value={String(heatAt)} onChange={(e) => setHeat({ heatAt: e.target.value === 'current' ? 'current' : Number(e.target.value) })} data-testid="heat-at" disabled={off}>
            <option value="current">{t('heatmap.current')}</option>
            <option value="0">{t('heatmap.base')}</option>
            {snapshots.map((s) => (
              <option key={s} value={s}>
                {t('heatmap.step', { step: s })}
              </option>
            ))}
          </select>
        </span>
        <span className="heat-field">
          <span aria-hidden="true">{t('heatmap.colourBy')}</span>
          <select aria-label={t('heatmap.colourLabel')} value={metric} onChange={(e) => setHeat({ heatMetric: e.target.value as HeatMetric })} data-testid="heat-metric" disabled={off}>
            {METRICS.map((m) => (
              <option key={m} value={m}>
                {t(`heatmap.metric.${m}`)}
              </option>
            ))}
          </select>
        </span>
        <button type="button" onClick={requestHeatmap} disabled={off || busy} data-testid="show-heatmap">
          {busy ? t('heatmap.evaluating') : heatmap ? t('heatmap.refresh') : t('heatmap.show')}
        </button>
        {heatmap && (
          <button type="button" className="link" onClick={clearHeatmap}>
            {t('heatmap.hide')}
          </button>
        )}
        {cells && heatmap && chipsShowIt && (
          <span className="heat-scale" data-testid="heatmap-shown" data-run={heatmap.run} data-step={heatmap.step}>
            <span className="heat-ramp" aria-hidden="true" />
            {t('heatmap.shown', { run: runs[heatmap.run]?.name, step: heatmap.step })}
          </span>
        )}
      </div>
      <p className="muted small">{why}</p>
      {(overrideCount > 0 || hand) && (
        <p className="small" data-testid="overrides-note">
          <Trans t={t} i18nKey="heatmap.overrides" components={{ strong: <strong /> }} />
          {overrideCount > 0 && t('heatmap.overridesNow', { n: overrideCount, sample: sampleIndex + 1 })}
          {hand && t('heatmap.overridesTrained', { n: hand.tokens, sample: hand.sample + 1 })}
        </p>
      )}
      <p className="muted small">
        <Trans t={t} i18nKey="heatmap.masked" components={{ code: <code /> }} />
      </p>
      {error && (
        <p className="message error" role="alert">
          {say(error)}
        </p>
      )}
      {mismatch && (
        <p className="message info">
          {t('heatmap.mismatch', {
            sample: heatmap.sample + 1,
            shown: heatmap.sample !== sampleIndex ? t('heatmap.mismatchSample', { sample: sampleIndex + 1 }) : t('heatmap.mismatchTokens'),
          })}
        </p>
      )}
    </div>
  );
}
