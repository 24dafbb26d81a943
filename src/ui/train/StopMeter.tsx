// The stop meter: for each run, the probability the model gives the end-of-turn token where each
// assistant turn of sample 1 ends, over the steps (0 = the base weights). A run that never trains
// the end-of-turn token (axolotl train_on_eos: none, pad == eos in TRL) shows it flat or falling:
// that model does not learn to stop. Like the loss chart it redraws from the live buffers, never
// through React renders.
import { getCurves, useStore, type RunCurve, type RunSpec } from '../../store';
import { memo, useDeferredValue, useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { Trans, useTranslation } from 'react-i18next';

const HEIGHT = 220;
/** Turns drawn per run (a long chat's later turns are left out of the chart, not of the data). */
const MAX_TURNS = 3;
const DASH = [undefined, [6, 4], [2, 3]];

/** The meter's aligned data: union of steps; per run and turn, p or null. */
export function meterData(curves: readonly RunCurve[], turns: number[]): (number | null)[][] {
  const steps = [...new Set(curves.flatMap((c) => c.stopStep ?? []))].sort((a, b) => a - b);
  const out: (number | null)[][] = [steps];
  curves.forEach((c, r) => {
    const at = new Map((c.stopStep ?? []).map((s, i) => [s, c.stopP?.[i] ?? []]));
    for (let t = 0; t < turns[r]; t++) out.push(steps.map((s) => at.get(s)?.[t] ?? null));
  });
  return out;
}

const turnCounts = (curves: readonly RunCurve[]) => curves.map((c) => Math.min(MAX_TURNS, Math.max(0, ...(c.stopP ?? []).map((p) => p.length))));

export const StopMeter = memo(function StopMeter({ runs }: { runs: readonly RunSpec[] }) {
  const box = useRef<HTMLDivElement>(null);
  // Deferred: the chart is rebuilt (new uPlot) in a background render's effects, not inside the
  // task that starts a training or brings its first reading (issue 15's main-thread budget).
  const shape = useDeferredValue(useStore((s) => turnCounts(getCurves()).join(',') + `/${s.curveVersion > 0 ? 1 : 0}`));
  const { t } = useTranslation('train');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const turns = turnCounts(getCurves());
    const series: uPlot.Series[] = [{ label: t('chart.step') }];
    runs.forEach((r, i) => {
      for (let k = 0; k < turns[i]; k++) {
        series.push({ label: t('stop.turn', { run: r.name, n: k + 1 }), stroke: r.color, width: 1.75, dash: DASH[k], points: { show: true, size: 4 }, value: (_u, v) => (v === null ? '—' : v.toFixed(3)) });
      }
    });
    const u = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: HEIGHT,
        scales: { x: { time: false }, y: { range: [0, 1] } },
        axes: [{ label: t('chart.xAxis'), stroke: '#344054' }, { label: t('stop.yAxis'), stroke: '#344054', size: 50 }],
        series,
        legend: { live: true },
      },
      meterData(getCurves(), turns) as uPlot.AlignedData,
      el,
    );
    const unsub = useStore.subscribe((s, prev) => {
      if (s.curveVersion !== prev.curveVersion) u.setData(meterData(getCurves(), turns) as uPlot.AlignedData);
    });
    const ro = new ResizeObserver(() => {
      const w = Math.max(320, el.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height: HEIGHT });
    });
    ro.observe(el);
    return () => {
      unsub();
      ro.disconnect();
      u.destroy();
    };
    // Rebuilt in the page's language (t changes with it): the axis and series names.
  }, [runs, shape, t]);
  // Re-rendered per flush (every 250 ms at most) for the count only; the chart itself is not rebuilt.
  useStore((s) => s.curveVersion);
  const points = getCurves().reduce((n, c) => n + (c.stopStep?.length ?? 0), 0);
  return (
    <figure className="stop-meter" data-testid="stop-meter" data-points={points}>
      <figcaption>
        <Trans t={t} i18nKey="stop.caption" components={{ b: <b /> }} />
      </figcaption>
      <div ref={box} className="chart-box" />
      {points === 0 && <p className="hint">{t('stop.empty')}</p>}
    </figure>
  );
});
