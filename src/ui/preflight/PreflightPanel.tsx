// Dataset preflight: the whole dataset (the paste box, or a dropped file) under the masking lab's
// first strategy, in the data worker with a progress bar and Cancel. Totals, what each finding hits
// (links to the samples), histograms, a sortable and filterable table of samples (a click opens the
// sample in the token view), and the export menu for the trainer that scales.
import { memo, useEffect, useId, useMemo, useRef, useState, type DragEvent } from 'react';
import uPlot from 'uplot';
import { useStore } from '../../store';
import { FINDING_IDS, PAGE_LIMITS, type FindingId, type Histogram, type PreflightReport, type SampleReport } from '../../data/preflight/types';
import type { ExportWhat } from '../../worker/dataProtocol';
import { downloadFiles } from '../train/download';
import { STRATEGY_BY_ID } from '../lab/strategyMeta';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

/** A finding's short title (preflight:finding.<id>). */
const findingKey = (f: FindingId) => `finding.${f}` as const;

const ROW_PX = 30;
const TABLE_PX = 360;
/** Sample links shown per finding. */
const FIRST_LINKS = 8;

type SortKey = 'line' | 'tokens' | 'trained' | 'share' | 'findings';

function HistogramChart({ h, title, x }: { h: Histogram; title: string; x: string }) {
  const box = useRef<HTMLDivElement>(null);
  const { t } = useTranslation('preflight');
  const y = t('hist.samples');
  useEffect(() => {
    const el = box.current;
    if (!el || h.counts.length === 0) return;
    const mids = h.counts.map((_, b) => (h.edges[b] + h.edges[b + 1]) / 2);
    const u = new uPlot(
      {
        width: Math.max(320, Math.min(560, el.clientWidth || 480)),
        height: 160,
        scales: { x: { time: false } },
        axes: [{ label: x, stroke: '#344054' }, { label: y, stroke: '#344054', size: 50 }],
        series: [{}, { label: y, stroke: '#4f46e5', fill: 'rgba(79,70,229,0.35)', paths: uPlot.paths.bars?.({ size: [0.9, 100] }), points: { show: false } }],
        legend: { show: false },
      },
      [mids, h.counts],
      el,
    );
    return () => u.destroy();
  }, [h, x, y]);
  return (
    <figure className="preflight-hist">
      <figcaption>{title}</figcaption>
      <div ref={box} />
      <table className="visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {h.counts.map((c, b) => (
            <tr key={b}>
              <th scope="row">
                {h.edges[b]}–{h.edges[b + 1]}
              </th>
              <td>{c}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function sortSamples(samples: readonly SampleReport[], key: SortKey, desc: boolean, filter: FindingId | 'any' | 'all'): SampleReport[] {
  const rows = samples.filter((s) => filter === 'all' || (filter === 'any' ? s.findings.length > 0 : s.findings.some((f) => f.id === filter)));
  const val = (s: SampleReport) => (key === 'findings' ? s.findings.length : s[key]);
  rows.sort((a, b) => (val(a) - val(b)) * (desc ? -1 : 1) || a.line - b.line);
  return rows;
}

const SampleTable = memo(function SampleTable({ report, filter, setFilter }: { report: PreflightReport; filter: FindingId | 'any' | 'all'; setFilter(f: FindingId | 'any' | 'all'): void }) {
  const open = useStore((s) => s.openPreflightSample);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'line', desc: false });
  const rows = useMemo(() => sortSamples(report.samples, sort.key, sort.desc, filter), [report, sort, filter]);
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / ROW_PX) - 5);
  const last = Math.min(rows.length, first + Math.ceil(TABLE_PX / ROW_PX) + 10);
  const filterId = useId();
  const { t } = useTranslation('preflight');
  const say = useMessage();
  const head = (key: SortKey, label: string) => (
    <th scope="col" aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" className="link" onClick={() => setSort((s) => ({ key, desc: s.key === key ? !s.desc : key !== 'line' }))} data-testid={`preflight-sort-${key}`}>
        {label}
        {sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
  return (
    <div className="preflight-table-box">
      <label htmlFor={filterId}>{t('table.show')}</label>
      <select id={filterId} value={filter} onChange={(e) => setFilter(e.target.value as FindingId | 'any' | 'all')} data-testid="preflight-filter">
        <option value="all">{t('table.every', { n: report.samples.length.toLocaleString() })}</option>
        <option value="any">{t('table.withFinding')}</option>
        {FINDING_IDS.map((f) => (
          <option key={f} value={f}>
            {t('table.findingCount', { title: t(findingKey(f)), n: report.totals.findings[f].toLocaleString() })}
          </option>
        ))}
      </select>{' '}
      <span className="muted small" data-testid="preflight-shown">
        {t('table.shown', { n: rows.length.toLocaleString() })}
      </span>
      <div className="preflight-table-scroll" style={{ height: TABLE_PX }} onScroll={(e) => setTop(e.currentTarget.scrollTop)} data-testid="preflight-table">
        <table className="preflight-table">
          <thead>
            <tr>
              {head('line', t('table.line'))}
              {head('tokens', t('table.tokens'))}
              {head('trained', t('table.trained'))}
              {head('share', t('table.share'))}
              {head('findings', t('table.findings'))}
            </tr>
          </thead>
          <tbody>
            {first > 0 && (
              <tr aria-hidden="true" style={{ height: first * ROW_PX }}>
                <td colSpan={5} />
              </tr>
            )}
            {rows.slice(first, last).map((s) => (
              <tr key={s.index} style={{ height: ROW_PX }} data-testid="preflight-row" data-line={s.line} className={s.findings.some((f) => report.fatal.includes(f.id)) ? 'fatal' : ''}>
                <td>
                  <button type="button" className="link" onClick={() => void open(s.index)} aria-label={t('table.open', { line: s.line })}>
                    {s.line}
                  </button>
                </td>
                <td>{s.tokens.toLocaleString()}</td>
                <td>{s.trained.toLocaleString()}</td>
                <td>{(s.share * 100).toFixed(1)}%</td>
                <td className="preflight-findings-cell" title={s.findings.map((f) => say(f.msg ?? f.message)).join('\n')}>
                  {s.findings.map((f) => t(findingKey(f.id))).join(', ')}
                </td>
              </tr>
            ))}
            {last < rows.length && (
              <tr aria-hidden="true" style={{ height: (rows.length - last) * ROW_PX }}>
                <td colSpan={5} />
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
});

/** The export menu, in order (labels: preflight:export.<what>). */
const EXPORTS: ExportWhat[] = ['pretokenized', 'parquet', 'trl', 'axolotl', 'llamafactory', 'torchtune', 'report-json', 'report-md'];

function ExportMenu() {
  const exportPreflight = useStore((s) => s.exportPreflight);
  const notes = useStore((s) => s.preflightExportNotes);
  const [busy, setBusy] = useState<ExportWhat | null>(null);
  const { t } = useTranslation('preflight');
  const say = useMessage();
  return (
    <details className="preflight-export" data-testid="preflight-export">
      <summary>{t('export.summary')}</summary>
      <p className="hint">{t('export.hint')}</p>
      <ul>
        {EXPORTS.map((what) => {
          const n = notes[what];
          return (
            <li key={what}>
              <button
                type="button"
                disabled={busy !== null}
                data-testid={`preflight-export-${what}`}
                onClick={async () => {
                  setBusy(what);
                  const r = await exportPreflight(what);
                  setBusy(null);
                  if (r && r.files.length) await downloadFiles(r.files.map((f) => ({ name: f.name, blob: new Blob([f.bytes as BlobPart], { type: f.type }) })));
                }}
              >
                {busy === what ? t('export.preparing') : t(`export.${what}`)}
              </button>
              {n && (n.cannotExpress.length > 0 || n.notes.length > 0) && (
                <ul className="notes" data-testid={`preflight-export-notes-${what}`}>
                  {n.cannotExpress.map((c, i) => (
                    <li key={c} className="warn">
                      {t('export.cannotExpress', { what: say(n.cannotExpressMsgs?.[i] ?? c) })}
                    </li>
                  ))}
                  {n.notes.map((c, i) => (
                    <li key={c}>{say(n.noteMsgs?.[i] ?? c)}</li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
    </details>
  );
}

function Report({ report }: { report: PreflightReport }) {
  const open = useStore((s) => s.openPreflightSample);
  const [filter, setFilter] = useState<FindingId | 'any' | 'all'>('all');
  const t = report.totals;
  const { t: tr } = useTranslation('preflight');
  const say = useMessage();
  return (
    <div className="preflight-report" data-testid="preflight-report">
      <dl className="stat-row">
        <div>
          <dt>{tr('report.samples')}</dt>
          <dd data-testid="preflight-samples">{t.samples.toLocaleString()}</dd>
        </div>
        <div>
          <dt>{tr('report.tokens')}</dt>
          <dd data-testid="preflight-tokens">{t.tokens.toLocaleString()}</dd>
        </div>
        <div className="stat-trained">
          <dt>{tr('report.trainedTokens')}</dt>
          <dd data-testid="preflight-trained">{t.trainedTokens.toLocaleString()}</dd>
        </div>
        <div>
          <dt>{tr('report.packedAt', { length: report.maxLength.toLocaleString() })}</dt>
          <dd data-testid="preflight-packing">
            {tr('report.packing', { sequences: t.packing.sequences.toLocaleString(), perSequence: t.packing.samplesPerSequence.toFixed(2), fill: (t.packing.fill * 100).toFixed(0) })}
          </dd>
        </div>
        {t.fatalSamples > 0 && (
          <div className="stat-cut">
            <dt>{tr('report.fatal')}</dt>
            <dd data-testid="preflight-fatal">{tr('report.fatalSamples', { n: t.fatalSamples.toLocaleString() })}</dd>
          </div>
        )}
      </dl>
      <p className="muted small">
        {tr('report.summary', { format: say(report.formatMsg ?? report.format), tokenizer: report.tokenizer, strategy: report.strategy.label })}
        {report.compared.length > 0 && tr('report.compared', { strategies: report.compared.map((c) => c.label).join(', ') })}
        {tr('report.ms', { ms: Math.round(report.ms).toLocaleString() })}
      </p>
      {report.brokenTotal > 0 && (
        <details className="error" role="alert" data-testid="preflight-broken" open={report.brokenLines.length <= 3}>
          <summary>
            {tr('report.broken', { count: report.brokenTotal })}
            {report.brokenLines.slice(0, 10).map((e) => e.line).join(', ')}
            {report.brokenTotal > 10 && ', …'}
          </summary>
          <ul>
            {report.brokenLines.map((e, i) => (
              <li key={i}>
                {/* The parser's message names the line and column already. */}
                {/\bline \d+/i.test(e.message)
                  ? say(e.msg ?? e.message)
                  : e.column !== undefined
                    ? tr('report.brokenLineColumn', { line: e.line, column: e.column, message: say(e.msg ?? e.message) })
                    : tr('report.brokenLine', { line: e.line, message: say(e.msg ?? e.message) })}
              </li>
            ))}
          </ul>
        </details>
      )}
      <ul className="preflight-findings" data-testid="preflight-findings">
        {FINDING_IDS.filter((f) => t.findings[f] > 0).map((f) => {
          const hit = report.samples.filter((s) => s.findings.some((x) => x.id === f));
          return (
            <li key={f} data-finding={f} className={report.fatal.includes(f) ? 'fatal' : ''}>
              <button type="button" className="link" onClick={() => setFilter(f)} data-testid={`preflight-finding-${f}`}>
                {tr('report.findingSamples', { count: t.findings[f], n: t.findings[f].toLocaleString(), title: tr(findingKey(f)) })}
              </button>{' '}
              <span className="muted small">{say(hit[0]?.findings.find((x) => x.id === f)?.msg ?? hit[0]?.findings.find((x) => x.id === f)?.message)}</span>{' '}
              {hit.slice(0, FIRST_LINKS).map((s) => (
                <button key={s.index} type="button" className="link sample-link" onClick={() => void open(s.index)} data-testid={`preflight-open-${f}`} aria-label={tr('report.openFinding', { line: s.line, title: tr(findingKey(f)) })}>
                  {tr('report.line', { line: s.line })}
                </button>
              ))}
              {hit.length > FIRST_LINKS && <span className="muted small"> …</span>}
            </li>
          );
        })}
        {FINDING_IDS.every((f) => t.findings[f] === 0) && <li className="ok">{tr('report.noFinding')}</li>}
      </ul>
      <div className="preflight-hists">
        <HistogramChart h={report.histograms.length} title={tr('hist.length')} x={tr('hist.lengthAxis')} />
        <HistogramChart h={report.histograms.share} title={tr('hist.share')} x={tr('hist.shareAxis')} />
      </div>
      <SampleTable report={report} filter={filter} setFilter={setFilter} />
      <ExportMenu />
    </div>
  );
}

export function PreflightPanel() {
  const say = useMessage();
  const pf = useStore((s) => s.preflight);
  const file = useStore((s) => s.preflightFile);
  const setFile = useStore((s) => s.setPreflightFile);
  const run = useStore((s) => s.runPreflight);
  const cancel = useStore((s) => s.cancelPreflight);
  const fatal = useStore((s) => s.preflightFatal);
  const setFatal = useStore((s) => s.setPreflightFatal);
  const undo = useStore((s) => s.preflightUndo);
  const undoOpen = useStore((s) => s.undoOpenSample);
  const first = useStore((s) => s.settings.lab.choices[0]);
  const [over, setOver] = useState(false);
  const fileId = useId();
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const f = e.dataTransfer.files[0];
    if (f) setFile(f);
  };
  const running = pf.status === 'running';
  const { t } = useTranslation('preflight');
  return (
    <section className="panel preflight" aria-labelledby="preflight-h" data-testid="preflight" data-status={pf.status}>
      <div className="panel-head">
        <h2 id="preflight-h">{t('title')}</h2>
        <span className="muted small">{t('intro', { strategy: STRATEGY_BY_ID.get(first.id)?.label ?? first.id })}</span>
      </div>
      <div className={`preflight-source${over ? ' drop-over' : ''}`} onDragOver={(e) => (e.preventDefault(), setOver(true))} onDragLeave={() => setOver(false)} onDrop={onDrop} data-testid="preflight-drop">
        {file ? (
          <>
            <Trans t={t} i18nKey="source.checking" values={{ name: file.name, size: (file.size / 2 ** 20).toFixed(2) }} components={{ b: <b /> }} />{' '}
            <button type="button" className="link" onClick={() => setFile(null)}>
              {t('source.usePasteBox')}
            </button>
          </>
        ) : (
          t('source.checkingPasteBox')
        )}
        <label htmlFor={fileId} className="link">
          {file ? t('source.chooseAnother') : t('source.choose')}
        </label>
        <input id={fileId} type="file" accept=".jsonl,.json,.txt,application/json" className="visually-hidden" onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid="preflight-file" />
        <span className="muted small">
          <Trans t={t} i18nKey="source.limits" values={{ samples: PAGE_LIMITS.samples.toLocaleString(), mb: PAGE_LIMITS.bytes / 2 ** 20 }} components={{ code: <code /> }} />
        </span>
      </div>
      <fieldset className="preflight-fatal">
        <legend>{t('fatalLegend')}</legend>
        {FINDING_IDS.map((f) => (
          <label key={f} className="choice">
            <input type="checkbox" checked={fatal.includes(f)} onChange={(e) => setFatal(e.target.checked ? [...fatal, f] : fatal.filter((x) => x !== f))} />
            {t(findingKey(f))}
          </label>
        ))}
      </fieldset>
      <div className="preflight-run">
        <button type="button" onClick={run} disabled={running} data-testid="preflight-run">
          {pf.report ? t('runAgain') : t('run')}
        </button>
        {running && (
          <>
            <progress max={Math.max(1, pf.total)} value={pf.done} data-testid="preflight-progress" aria-label={t('progress')} />{' '}
            <span className="muted small" role="status">
              {pf.total === 0 && pf.step ? say(pf.step) : t('progressText', { done: pf.done.toLocaleString(), total: pf.total ? pf.total.toLocaleString() : '…' })}
            </span>{' '}
            <button type="button" onClick={cancel} data-testid="preflight-cancel">
              {t('cancel')}
            </button>
          </>
        )}
        {pf.status === 'cancelled' && <span className="muted small" role="status">{t('cancelled')}</span>}
      </div>
      {pf.error && (
        <p className="error" role="alert" data-testid="preflight-error">
          {say(pf.error)}
        </p>
      )}
      {undo && (
        <p className="notice" role="status">
          {t('undoNotice', { name: pf.source.kind === 'file' ? pf.source.name : t('theFile') })}{' '}
          <button type="button" onClick={undoOpen} data-testid="preflight-undo-open">
            {t('undo')}
          </button>
        </p>
      )}
      {pf.report && <Report report={pf.report} />}
    </section>
  );
}
