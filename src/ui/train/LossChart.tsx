// Live loss curves (uPlot): per run its objective (solid), and on the same ruler for every run the
// response-token loss (dashed), the prompt-token loss (dotted) and, every few steps from step 0, the
// held-out response loss (dash-dot with points: samples no run trains on). The chart subscribes to the
// store's curveVersion and calls setData itself: React renders this component when the run list or
// the axis options change, never per step.
import { getCurves, useStore, type RunSpec } from '../../store';
import { memo, useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { chartData, curvesCsv, SERIES_KINDS, type SeriesKind } from '../../store/curves';
import { downloadFiles } from './download';
import { useTranslation } from 'react-i18next';

const HEIGHT = 320;
const DASH: Record<SeriesKind, number[] | undefined> = { objective: undefined, response: [7, 4], prompt: [2, 4], heldOut: [10, 3, 2, 3] };
const WIDTH: Record<SeriesKind, number> = { objective: 2.25, response: 1.5, prompt: 1.5, heldOut: 2 };

/** Tick spacings of the step axis: whole steps only, 1-2-5 per decade. */
const STEP_INCRS = Array.from({ length: 7 }, (_, d) => [1, 2, 5].map((m) => m * 10 ** d)).flat();

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(4));

/** The chart's words in the page's language: the x series, the axes. */
interface ChartWords {
  step: string;
  x: string;
  y: string;
  yLog: string;
}

function options(runs: readonly RunSpec[], width: number, log: boolean, title: Record<SeriesKind, string>, words: ChartWords): uPlot.Options {
  const series: uPlot.Series[] = [{ label: words.step, value: (_u, v) => (v === null ? '—' : String(v)) }];
  for (const r of runs) {
    for (const kind of SERIES_KINDS) {
      // The held-out loss is measured every few steps: its points are joined across the steps between.
      const held = kind === 'heldOut';
      series.push({ label: `${r.name}: ${title[kind]}`, stroke: r.color, width: WIDTH[kind], dash: DASH[kind], spanGaps: held, points: { show: held, size: 5, fill: r.color }, value: (_u, v) => fmt(v) });
    }
  }
  return {
    width,
    height: HEIGHT,
    scales: { x: { time: false }, y: log ? { distr: 3 } : { auto: true } },
    axes: [
      { label: words.x, stroke: '#344054', grid: { stroke: '#eef0f4' }, incrs: STEP_INCRS },
      { label: log ? words.yLog : words.y, stroke: '#344054', grid: { stroke: '#eef0f4' }, size: 60 },
    ],
    series,
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
}

/** PNG of the chart: uPlot's canvas (plot and axes) on white, with a title and a legend key. */
function exportPng(u: uPlot, runs: readonly RunSpec[], title: string, seriesTitle: Record<SeriesKind, string>): void {
  const src = u.ctx.canvas;
  const ratio = src.width / u.width || 1;
  const rows = runs.length + 1;
  const lineH = 18 * ratio;
  const head = 28 * ratio;
  const out = document.createElement('canvas');
  out.width = src.width;
  out.height = src.height + head + rows * lineH + 8 * ratio;
  const g = out.getContext('2d');
  if (!g) return;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, out.width, out.height);
  g.fillStyle = '#1b2430';
  g.font = `600 ${14 * ratio}px system-ui, sans-serif`;
  g.fillText(title, 10 * ratio, 19 * ratio);
  g.drawImage(src, 0, head);
  g.font = `${12 * ratio}px system-ui, sans-serif`;
  let y = head + src.height + lineH;
  const key = (x: number, color: string, dash: number[] | undefined, label: string) => {
    g.strokeStyle = color;
    g.lineWidth = 2 * ratio;
    g.setLineDash((dash ?? []).map((d) => d * ratio));
    g.beginPath();
    g.moveTo(x, y - 4 * ratio);
    g.lineTo(x + 26 * ratio, y - 4 * ratio);
    g.stroke();
    g.fillStyle = '#1b2430';
    g.fillText(label, x + 32 * ratio, y);
  };
  for (const r of runs) {
    g.fillStyle = r.color;
    g.fillText(r.name, 10 * ratio, y);
    y += lineH;
  }
  let x = 10 * ratio;
  for (const kind of SERIES_KINDS) {
    key(x, '#344054', DASH[kind], seriesTitle[kind]);
    x += (g.measureText(seriesTitle[kind]).width + 60 * ratio);
  }
  out.toBlob((blob) => blob && download(blob, 'loss-curves.png'));
}

function download(blob: Blob, name: string): void {
  void downloadFiles([{ name, blob }]);
}

export const LossChart = memo(function LossChart({ runs }: { runs: readonly RunSpec[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const smoothing = useStore((s) => s.smoothing);
  const logScale = useStore((s) => s.logScale);
  const setChart = useStore((s) => s.setChart);
  const empty = useStore((s) => s.phase === 'idle' && s.record === null);
  const { t } = useTranslation('heldout');
  const heldTitle = t('chart.series');
  const title: Record<SeriesKind, string> = {
    objective: t('train:chart.series.objective'),
    response: t('train:chart.series.response'),
    prompt: t('train:chart.series.prompt'),
    heldOut: heldTitle,
  };
  const words: ChartWords = { step: t('train:chart.step'), x: t('train:chart.xAxis'), y: t('train:chart.yAxis'), yLog: t('train:chart.yAxisLog') };

  // (Re)build when the series or the y distribution change; data arrives through the subscription.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(320, el.clientWidth);
    const draw = () => chartData(getCurves(), { smoothing: useStore.getState().smoothing, log: useStore.getState().logScale }) as uPlot.AlignedData;
    const u = new uPlot(options(runs, width, logScale, title, words), draw(), el);
    plot.current = u;
    const unsub = useStore.subscribe((s, prev) => {
      if (s.curveVersion !== prev.curveVersion || s.smoothing !== prev.smoothing) u.setData(draw());
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
      plot.current = null;
    };
    // Rebuilt when the language changes (t changes with it): series and axis names.
  }, [runs, logScale, t]);

  const exportCsv = () => {
    download(new Blob([curvesCsv(runs.map((r) => r.name), getCurves())], { type: 'text/csv' }), 'loss-curves.csv');
  };

  return (
    <div className="loss-chart">
      <div className="chart-tools" role="group" aria-label={t('train:chart.options')}>
        <label className="choice">
          <input type="checkbox" checked={smoothing} onChange={(e) => setChart({ smoothing: e.target.checked })} data-testid="chart-smoothing" />
          {t('train:chart.smooth')}
        </label>
        <label className="choice">
          <input type="checkbox" checked={logScale} onChange={(e) => setChart({ logScale: e.target.checked })} data-testid="chart-log" />
          {t('train:chart.log')}
        </label>
        <span className="chart-key" aria-hidden="true">
          <span className="key-line solid" /> {t('train:chart.objective')} <span className="key-line dashed" /> {t('train:chart.responseTokens')}{' '}
          <span className="key-line dotted" /> {t('train:chart.promptTokens')} <span className="key-line dashdot" /> {heldTitle}
        </span>
        <span className="spacer" />
        <button type="button" onClick={exportCsv} data-testid="export-csv">
          CSV
        </button>
        <button type="button" onClick={() => plot.current && exportPng(plot.current, runs, t('train:chart.pngTitle'), title)} data-testid="export-png">
          PNG
        </button>
      </div>
      <div className="chart-frame">
        <div ref={box} className="chart-box" data-testid="loss-chart" />
        {empty && (
          <p className="chart-empty" data-testid="chart-empty">
            {t('train:chart.empty')}
          </p>
        )}
      </div>
    </div>
  );
});
