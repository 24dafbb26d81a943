// Per-token heatmap on the token view: pick a run, the weights (current, base, or a kept step) and
// what to colour by. The numbers come from the training worker (a forward and a backward pass
// without update); cells are built once per result and metric, so chips re-render once, not per step.
import { useStore, type HeatMetric } from '../../store';
import { useMemo } from 'react';
import type { HeatmapData } from '../../worker/trainProtocol';
import type { TokenColumns } from '../../worker/dataProtocol';

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

export const METRIC_TITLE: Record<HeatMetric, string> = {
  loss: 'loss of the token',
  prob: 'probability of the token',
  dlogit: 'gradient at the logits',
  dembed: 'gradient at the input embedding',
};

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
  // Always laid out (disabled without runs), so starting a training does not move the token view.
  const off = phase === 'idle' || phase === 'starting' || restored;
  const why = restored
    ? "The saved runs' weights are not on the GPU (they are being brought back, or could not be: see the status above)."
    : off
      ? 'Train below, then colour every token by its loss or gradient for any run.'
      : 'Pick a run and its weights (current, base, or a step kept during training), then show the heatmap.';
  const mismatch = heatmap !== null && cells === null;
  return (
    <div className="heatmap-bar" data-testid="heatmap-controls" role="group" aria-label="Heatmap" data-off={off || undefined}>
      <div className="heatmap-row">
        <strong>Heatmap</strong>
        <span className="heat-field">
          <span aria-hidden="true">run</span>
          <select aria-label="Heatmap run" value={heatRun} onChange={(e) => setHeat({ heatRun: Number(e.target.value) })} data-testid="heat-run" disabled={off}>
            {runs.map((r, i) => (
              <option key={r.id} value={i}>
                {r.name}
              </option>
            ))}
          </select>
        </span>
        <span className="heat-field">
          <span aria-hidden="true">weights</span>
          <select aria-label="Heatmap weights" value={String(heatAt)} onChange={(e) => setHeat({ heatAt: e.target.value === 'current' ? 'current' : Number(e.target.value) })} data-testid="heat-at" disabled={off}>
            <option value="current">current</option>
            <option value="0">step 0 (base)</option>
            {snapshots.map((s) => (
              <option key={s} value={s}>
                step {s}
              </option>
            ))}
          </select>
        </span>
        <span className="heat-field">
          <span aria-hidden="true">colour by</span>
          <select aria-label="Heatmap colour" value={metric} onChange={(e) => setHeat({ heatMetric: e.target.value as HeatMetric })} data-testid="heat-metric" disabled={off}>
            {(Object.keys(METRIC_TITLE) as HeatMetric[]).map((m) => (
              <option key={m} value={m}>
                {METRIC_TITLE[m]}
              </option>
            ))}
          </select>
        </span>
        <button type="button" onClick={requestHeatmap} disabled={off || busy} data-testid="show-heatmap">
          {busy ? 'Evaluating…' : heatmap ? 'Refresh' : 'Show heatmap'}
        </button>
        {heatmap && (
          <button type="button" className="link" onClick={clearHeatmap}>
            hide
          </button>
        )}
        {cells && heatmap && chipsShowIt && (
          <span className="heat-scale" data-testid="heatmap-shown" data-run={heatmap.run} data-step={heatmap.step}>
            <span className="heat-ramp" aria-hidden="true" /> {runs[heatmap.run]?.name}, step {heatmap.step} · darker = more
          </span>
        )}
      </div>
      <p className="muted small">{why}</p>
      {(overrideCount > 0 || hand) && (
        <p className="small" data-testid="overrides-note">
          <strong>Hand overrides apply to all runs</strong>: a clicked chip changes every run's label for that token of this
          sample when you train.
          {overrideCount > 0 && ` ${overrideCount} on sample ${sampleIndex + 1} now.`}
          {hand && ` The shown runs were trained with ${hand.tokens} on sample ${hand.sample + 1}.`}
        </p>
      )}
      <p className="muted small">
        Masked (<code>-100</code>) tokens have zero gradient at their logits, yet their input embeddings still get
        gradient, because the trained tokens after them attend to them.
      </p>
      {error && (
        <p className="message error" role="alert">
          {error}
        </p>
      )}
      {mismatch && (
        <p className="message info">
          The heatmap is for sample {heatmap.sample + 1} tokenized with the model's tokenizer; the token view shows
          {heatmap.sample !== sampleIndex ? ` sample ${sampleIndex + 1}` : ' another tokenization'}. Press Refresh, or pick the
          loaded model's tokenizer (the first one) in the settings.
        </p>
      )}
    </div>
  );
}
