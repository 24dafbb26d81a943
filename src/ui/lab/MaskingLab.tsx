// The masking lab: the shown sample under 1–6 frameworks' masking rules, one row of labels per
// strategy, aligned on the token texts (each row keeps its own ids: some frameworks build the
// sequence themselves), every cell that differs from the first row highlighted, and the reason for
// every label on hover or focus. Rows are computed in the data worker (src/data/strategies); this is
// a view over the store's lab slice. Columns are grouped in blocks that end, where possible, after a
// newline (so a block boundary falls where the text breaks a line anyway), and big samples are
// drawn over several tasks so a picker change never blocks the page for long.
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useStore } from '../../store';
import { STRATEGIES, MAX_LAB_ROWS, type LabRow } from '../../data/strategies';
import { STRATEGY_BY_ID } from './strategyMeta';
import { ROLE_CODES, type LabReply } from '../../worker/dataProtocol';
import { visibleWhitespace } from '../../data/whitespace';
import type { LabChoiceSpec } from '../../store';
import { LabRowCard } from './LabRowCard';
import { Trans, useTranslation } from 'react-i18next';
import i18n from '../i18n';
import { useMessage } from '../i18n/useMessage';

/** Columns the grid holds at once (pages beyond). */
const PAGE_COLUMNS = 6000;
/** A block ends after a newline token between these many columns, else at MAX_BLOCK. */
const MIN_BLOCK = 12;
const MAX_BLOCK = 48;
/** A render's budget: about this long for the columns it creates or changes (learned per column). */
const STEP_MS = 30;
const MIN_STEP_COLUMNS = 32;
/** The learned cost misses the layout and paint after the commit: never more than this per task. */
const MAX_STEP_COLUMNS = 96;
/** Measured cost of one changed column (render, commit, layout), shared by every grid. */
let msPerColumn = 0.3;
/** Columns kept around each difference in the "differences only" view. */
const CONTEXT_COLUMNS = 2;


/** Per column: whether a row's label differs from the first row's (a missing token counts as masked). */
export interface LabView {
  reply: LabReply;
  R: number;
  C: number;
  /** (C,) 1 where some row disagrees with row 0. */
  differs: Uint8Array;
  /** (R,) disagreements of each row with row 0. */
  disagreements: number[];
}

const trainedAt = (row: LabRow, k: number) => k >= 0 && row.labels[k] !== -100;

export function labView(reply: LabReply): LabView {
  const { R, C, cells } = reply.alignment;
  const differs = new Uint8Array(C);
  const disagreements = new Array<number>(R).fill(0);
  for (let c = 0; c < C; c++) {
    const base = trainedAt(reply.rows[0], cells[c * R]);
    for (let r = 1; r < R; r++) {
      if (trainedAt(reply.rows[r], cells[c * R + r]) !== base) {
        differs[c] = 1;
        disagreements[r]++;
      }
    }
  }
  return { reply, R, C, differs, disagreements };
}

function cellText(row: LabRow, k: number): string {
  return row.text.slice(row.starts[k], row.ends[k]);
}

/** The column's role (its glyph's): the first row that has the token. */
function columnRole(v: LabView, c: number): string {
  const { cells } = v.reply.alignment;
  for (let r = 0; r < v.R; r++) {
    const k = cells[c * v.R + r];
    if (k >= 0) return ROLE_CODES[v.reply.roles[r][k]];
  }
  return 'template';
}

/** The column's token text: the first row that has it. */
function columnText(v: LabView, c: number): string {
  const { cells } = v.reply.alignment;
  for (let r = 0; r < v.R; r++) {
    const k = cells[c * v.R + r];
    if (k >= 0) return cellText(v.reply.rows[r], k);
  }
  return '';
}

/** The columns' accessible-name pieces in one language, translated once: a grid has thousands of cells. */
interface ColumnWords {
  /** Templates with {row}, {label}, {state}, {role}, {text}, {cells} left to fill. */
  label: string;
  cell: string;
  missing: string;
  differ: string;
  trained: string;
  masked: string;
  roles: string[];
}
const columnWordsCache = new Map<string, ColumnWords>();
function columnWords(lng: string): ColumnWords {
  let w = columnWordsCache.get(lng);
  if (!w) {
    const t = i18n.getFixedT(lng);
    w = {
      label: t('lab:column.label', { text: '{text}', cells: '{cells}' }),
      cell: t('lab:column.cell', { row: '{row}', label: '{label}', state: '{state}', role: '{role}' }),
      missing: t('lab:column.missing', { row: '{row}' }),
      differ: t('lab:column.differ'),
      trained: t('lab:column.trained'),
      masked: t('lab:column.masked'),
      roles: ROLE_CODES.map((r) => t(`tokens:role.${r}`)),
    };
    columnWordsCache.set(lng, w);
  }
  return w;
}
const fill = (template: string, values: Record<string, string | number>) => template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));

/** A column's accessible name: its text, then each row's label, whether it trains, and the token's role. */
function columnName(v: LabView, c: number, text: string, lng: string): string {
  const w = columnWords(lng);
  const { cells } = v.reply.alignment;
  const parts = v.reply.rows.map((row, r) => {
    const k = cells[c * v.R + r];
    if (k < 0) return fill(w.missing, { row: r + 1 });
    const label = row.labels[k];
    return fill(w.cell, { row: r + 1, label, state: label === -100 ? w.masked : w.trained, role: w.roles[v.reply.roles[r][k]] });
  });
  return fill(w.label, { text: JSON.stringify(text), cells: parts.join('; ') }) + (v.differs[c] ? w.differ : '');
}

const Column = memo(function Column({ v, c, active, diffOnly, lng }: { v: LabView; c: number; active: boolean; diffOnly: boolean; lng: string }) {
  const { cells } = v.reply.alignment;
  const text = columnText(v, c);
  const shown = visibleWhitespace(text);
  const baseK = cells[c * v.R];
  return (
    <div
      className={`lab-col${v.differs[c] ? ' differs' : ''}${baseK < 0 ? ' inserted' : ''}`}
      data-col={c}
      data-differs={v.differs[c] ? 'true' : 'false'}
      tabIndex={active ? 0 : -1}
      role="gridcell"
      aria-label={columnName(v, c, text, lng)}
      data-diffonly={diffOnly || undefined}
    >
      {/* The role's glyph on the token text, once per column (a glyph in every cell costs layout on six rows). */}
      <span className={`lab-text role-${columnRole(v, c)}${text === '' ? ' tok-empty' : ''}`}>{shown}</span>
      {v.reply.rows.map((row, r) => {
        const k = cells[c * v.R + r];
        if (k < 0) {
          return (
            <span key={r} className="lab-cell missing" data-strategy={row.strategy} data-row={r} data-missing="true" data-reason="this framework has no such token here">
              —
            </span>
          );
        }
        const label = row.labels[k];
        const differs = r > 0 && trainedAt(row, k) !== trainedAt(v.reply.rows[0], baseK);
        const own = baseK < 0 || cellText(row, k) !== text;
        return (
          <span
            key={r}
            className={`lab-cell ${label === -100 ? 'masked' : 'trained'}${differs ? ' differs' : ''}${own && r > 0 ? ' inserted' : ''} role-${ROLE_CODES[v.reply.roles[r][k]]}`}
            data-strategy={row.strategy}
            data-row={r}
            data-token-index={k}
            data-token-id={row.ids[k]}
            data-label={label}
            data-role={ROLE_CODES[v.reply.roles[r][k]]}
            data-reason={row.reasons[row.reasonIndex[k]]}
            title={own && r > 0 ? i18n.t('lab:column.onlyThisRow', { lng, text: JSON.stringify(cellText(row, k)) }) : undefined}
          >
            {label === -100 ? '-100' : label}
          </span>
        );
      })}
    </div>
  );
});

/** The columns to draw: all, or the differing ones with CONTEXT_COLUMNS around each (null = a gap). */
function visibleColumns(v: LabView, diffOnly: boolean): (number | null)[] {
  if (!diffOnly) {
    // A plain loop: Array.from with a callback took ~20 ms for a 1 MB sample's 329k columns.
    const all = new Array<number>(v.C);
    for (let c = 0; c < v.C; c++) all[c] = c;
    return all;
  }
  const keep = new Uint8Array(v.C);
  for (let c = 0; c < v.C; c++) {
    if (!v.differs[c]) continue;
    for (let d = Math.max(0, c - CONTEXT_COLUMNS); d <= Math.min(v.C - 1, c + CONTEXT_COLUMNS); d++) keep[d] = 1;
  }
  const out: (number | null)[] = [];
  for (let c = 0; c < v.C; c++) {
    if (keep[c]) out.push(c);
    else if (out.length > 0 && out[out.length - 1] !== null) out.push(null);
  }
  if (out[out.length - 1] === null) out.pop();
  return out;
}

function Reasons({ v, c }: { v: LabView; c: number | null }) {
  const { t } = useTranslation('lab');
  const say = useMessage();
  if (c === null || c >= v.C) {
    return (
      <p className="hint lab-reasons" data-testid="lab-reasons">
        {t('reasons.hint')}
      </p>
    );
  }
  const { cells } = v.reply.alignment;
  return (
    <div className="lab-reasons" data-testid="lab-reasons" aria-live="polite">
      <strong>{t('reasons.token', { text: JSON.stringify(columnText(v, c)) })}</strong>
      <ul>
        {v.reply.rows.map((row, r) => {
          const k = cells[c * v.R + r];
          return (
            <li key={r} data-strategy={row.strategy} data-row={r}>
              <span className="lab-reason-row">{row.label}</span>{' '}
              {k < 0 ? (
                <span className="muted">{t('reasons.noSuchToken')}</span>
              ) : (
                <>
                  <code>#{k}</code> <Trans t={t} i18nKey="reasons.rule" values={{ id: row.ids[k], label: row.labels[k] }} components={{ b: <b /> }} />
                  {say(row.reasonMsgs?.[row.reasonIndex[k]] ?? row.reasons[row.reasonIndex[k]])}
                </>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

/** What one block of the grid shows: its columns of one view. */
interface BlockSrc {
  v: LabView;
  cols: (number | null)[];
  /** Block b covers cols[bounds[b]..bounds[b + 1]). */
  bounds: number[];
  diffOnly: boolean;
  /** The page's language (the cells' accessible names). */
  lng: string;
}

function blockBounds(v: LabView, cols: (number | null)[]): number[] {
  const bounds = [0];
  let last = 0;
  let lastBreak = -1;
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i];
    if (c !== null && columnText(v, c).endsWith('\n') && i + 1 - last >= MIN_BLOCK) lastBreak = i + 1;
    if (i + 1 - last >= MAX_BLOCK || (lastBreak === i + 1)) {
      const at = lastBreak > last ? lastBreak : i + 1;
      bounds.push(at);
      last = at;
      lastBreak = -1;
    }
  }
  if (bounds[bounds.length - 1] !== cols.length) bounds.push(cols.length);
  return bounds;
}

const Block = memo(function Block({ src, b, tabCol }: { src: BlockSrc; b: number; tabCol: number }) {
  const part = src.cols.slice(src.bounds[b], src.bounds[b + 1]);
  return (
    <div className="lab-block" data-block={b}>
      {part.map((c, i) =>
        c === null ? (
          <span key={`gap${i}`} className="lab-gap" aria-hidden="true">
            …
          </span>
        ) : (
          <Column key={c} v={src.v} c={c} active={c === tabCol} diffOnly={src.diffOnly} lng={src.lng} />
        ),
      )}
    </div>
  );
});

function LabGrid({ v, diffOnly, stale }: { v: LabView; diffOnly: boolean; stale: boolean }) {
  const { t, i18n: { language: lng } } = useTranslation('lab');
  // A page of columns at a time: a 300k-token sample would be millions of elements.
  const all = useMemo(() => visibleColumns(v, diffOnly), [v, diffOnly]);
  const pages = Math.max(1, Math.ceil(all.length / PAGE_COLUMNS));
  const [pageWanted, setPage] = useState(0);
  const page = Math.min(pageWanted, pages - 1);
  const latest = useMemo<BlockSrc>(() => {
    const cols = all.slice(page * PAGE_COLUMNS, (page + 1) * PAGE_COLUMNS);
    return { v, cols, bounds: blockBounds(v, cols), diffOnly, lng };
  }, [v, all, page, diffOnly, lng]);
  const { cols, bounds } = latest;
  const blocks = bounds.length - 1;
  const blockOf = (i: number) => {
    let b = 0;
    while (b + 1 < blocks && bounds[b + 1] <= i) b++;
    return b;
  };
  // Progressive replacement: each render brings about STEP_MS of columns up to the latest rows;
  // the other blocks keep what they showed (or wait) and follow in the next tasks, so neither
  // mounting a sixth row nor replacing a big grid is one long task. The plan is computed from the
  // committed state and written after the commit (a render may run twice).
  const shown = useRef<(BlockSrc | undefined)[]>([]);
  const priority = useRef<number | null>(null);
  const startedAt = performance.now();
  const plan = shown.current.slice(0, blocks);
  const budget = Math.min(MAX_STEP_COLUMNS, Math.max(MIN_STEP_COLUMNS, STEP_MS / msPerColumn));
  let spent = 0;
  const order = Array.from({ length: blocks }, (_, b) => b);
  if (priority.current !== null && priority.current < blocks) order.unshift(priority.current);
  for (const b of order) {
    if (plan[b] === latest) continue;
    const n = bounds[b + 1] - bounds[b];
    if (spent > 0 && spent + n > budget) break;
    plan[b] = latest;
    spent += n;
  }
  let pending = 0;
  for (let b = 0; b < blocks; b++) if (plan[b] !== latest) pending++;
  useLayoutEffect(() => {
    shown.current = plan;
    if (spent >= MIN_STEP_COLUMNS) msPerColumn = 0.7 * msPerColumn + (0.3 * (performance.now() - startedAt)) / spent;
  });
  const [, setTick] = useState(0);
  useEffect(() => {
    if (pending === 0) return;
    const t = setTimeout(() => setTick((k) => k + 1), 0);
    return () => clearTimeout(t);
  });
  const [active, setActive] = useState<number | null>(null);
  const [focusCol, setFocusCol] = useState(0);
  const gridRef = useRef<HTMLDivElement>(null);
  const firstCol = cols.find((c) => c !== null) ?? 0;
  const tabCol = cols.includes(focusCol) ? focusCol : firstCol;
  const tabBlock = blockOf(cols.indexOf(tabCol));

  const colOf = (el: EventTarget | null) => {
    const col = (el as HTMLElement | null)?.closest<HTMLElement>('[data-col]');
    return col ? Number(col.dataset.col) : null;
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const c = colOf(e.target);
    if (c === null) return;
    const list = cols.filter((x): x is number => x !== null);
    const at = list.indexOf(c);
    const to: Record<string, number> = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: list.length - 1, PageDown: at + 50, PageUp: at - 50 };
    if (!(e.key in to)) return;
    e.preventDefault();
    const next = list[Math.min(Math.max(0, to[e.key]), list.length - 1)];
    if (next === undefined) return;
    priority.current = blockOf(cols.indexOf(next));
    setFocusCol(next);
    requestAnimationFrame(() => gridRef.current?.querySelector<HTMLElement>(`[data-col="${next}"]`)?.focus());
  };

  const out = [];
  for (let b = 0; b < blocks; b++) {
    const src = plan[b];
    // Only the block holding the Tab stop gets it: any other prop change would redraw every block.
    if (src) out.push(<Block key={b} src={src} b={b} tabCol={src === latest && b === tabBlock ? tabCol : -1} />);
  }
  const drawn = pending === 0;
  return (
    <>
      {pages > 1 && (
        <div className="lab-pages" role="group" aria-label={t('pages')} data-testid="lab-pages">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
            {t('prevPage')}
          </button>{' '}
          <span data-testid="lab-page">
            {t('page', { from: (page * PAGE_COLUMNS + 1).toLocaleString(lng), to: Math.min(all.length, (page + 1) * PAGE_COLUMNS).toLocaleString(lng), total: all.length.toLocaleString(lng) })}
          </span>{' '}
          <button type="button" disabled={page >= pages - 1} onClick={() => setPage(page + 1)}>
            {t('nextPage')}
          </button>
        </div>
      )}
      <div className="lab-legend" aria-hidden="true">
        {v.reply.rows.map((row, r) => (
          <span key={r} className="lab-legend-row">
            <b>{r + 1}</b> {row.label}
          </span>
        ))}
      </div>
      <div
        ref={gridRef}
        className="lab-grid"
        role="grid"
        aria-label={t('grid.label', { rows: v.R, columns: v.C, names: v.reply.rows.map((r) => r.label).join(', ') })}
        data-testid="lab-grid"
        data-stale={stale}
        data-drawn={drawn ? 'all' : blocks - pending}
        aria-busy={!drawn || undefined}
        onMouseOver={(e) => setActive(colOf(e.target))}
        onFocus={(e) => {
          const c = colOf(e.target);
          setActive(c);
          if (c !== null) setFocusCol(c);
        }}
        onKeyDown={onKeyDown}
      >
        <div role="row" className="lab-flow">
          {out}
        </div>
        {cols.length === 0 && <p className="hint">{t('grid.none')}</p>}
      </div>
      <Reasons v={v} c={active} />
    </>
  );
}

function Picker({ choices }: { choices: LabChoiceSpec[] }) {
  const addLabRow = useStore((s) => s.addLabRow);
  const removeLabRow = useStore((s) => s.removeLabRow);
  const full = choices.length >= MAX_LAB_ROWS;
  const { t } = useTranslation('lab');
  return (
    <fieldset className="lab-picker" data-testid="lab-picker">
      <legend>{t('picker.legend', { n: choices.length, max: MAX_LAB_ROWS })}</legend>
      {STRATEGIES.map((s) => {
        const mine = choices.filter((c) => c.id === s.id);
        const on = mine.length > 0;
        const only = on && choices.length === mine.length;
        return (
          <label key={s.id} className="choice" title={s.source}>
            <input
              type="checkbox"
              checked={on}
              disabled={(!on && full) || only}
              data-testid={`lab-pick-${s.id}`}
              onChange={(e) => {
                if (e.target.checked) addLabRow(s.id);
                else for (const c of mine) removeLabRow(c.key);
              }}
            />
            {s.label}
          </label>
        );
      })}
      {full && <p className="hint">{t('picker.full')}</p>}
    </fieldset>
  );
}

export function MaskingLab() {
  const lab = useStore((s) => s.lab);
  const choices = useStore((s) => s.settings.lab.choices);
  const diffOnly = useStore((s) => s.settings.lab.diffOnly);
  const setLabDiffOnly = useStore((s) => s.setLabDiffOnly);
  const labBusy = useStore((s) => s.labBusy);
  const labError = useStore((s) => s.labError);
  const labStale = useStore((s) => s.labStale);
  const removed = useStore((s) => s.lastRemovedLabRow);
  const restoreLabRow = useStore((s) => s.restoreLabRow);
  const v = useMemo(() => (lab ? labView(lab) : null), [lab]);
  const { t } = useTranslation('lab');
  // The reply's rows are for the choices at the time of the request: pair them by position only when
  // they are the same strategies, else wait for the refresh.
  const inStep = v !== null && v.R === choices.length && v.reply.rows.every((r, i) => r.strategy === choices[i].id);
  return (
    <section className="panel masking-lab" aria-labelledby="lab-h" data-testid="masking-lab" data-busy={labBusy} data-stale={labStale}>
      <div className="panel-head">
        <h2 id="lab-h">{t('title')}</h2>
        <span className="muted small">
          {t('intro')}
          {lab && t('introDetails', { tokenizer: lab.tokenizerLabel, length: lab.contextLength.toLocaleString(), ms: Math.round(lab.ms) })}
          {t('introEnd')}
        </span>
        {labBusy && <span className="muted small" role="status">{t('updating')}</span>}
        {labStale && !labBusy && (
          <span className="stale-badge" data-testid="lab-stale">
            {t('stale')}
          </span>
        )}
      </div>
      <Picker choices={choices} />
      {removed && (
        <p className="hint" role="status">
          {t('removed', { label: STRATEGY_BY_ID.get(removed.choice.id)?.label })}{' '}
          <button type="button" className="link" onClick={restoreLabRow} data-testid="lab-undo-remove">
            {t('undo')}
          </button>
        </p>
      )}
      {labError && (
        <p className="error" role="alert" data-testid="lab-error">
          {labError}
        </p>
      )}
      <ol className="lab-rows" data-testid="lab-rows">
        {choices.map((c, i) => (
          <LabRowCard
            key={c.key}
            choice={c}
            index={i}
            row={inStep ? v.reply.rows[i] : null}
            disagreements={inStep ? v.disagreements[i] : null}
            removable={choices.length > 1}
          />
        ))}
      </ol>
      {/* Kept on screen with the previous rows while new ones compute: unmounting a big grid
          and mounting it again would be one long task on every picker change. */}
      {v && (
        <>
          <label className="choice lab-diff-only">
            <input type="checkbox" checked={diffOnly} onChange={(e) => setLabDiffOnly(e.target.checked)} data-testid="lab-diff-only" />
            {t('diffOnly', { differ: v.differs.reduce((a, b) => a + b, 0).toLocaleString(), total: v.C.toLocaleString() })}
          </label>
          {v.reply.alignment.positional.length > 0 && (
            <p className="hint">{t('positional', { rows: v.reply.alignment.positional.map((r) => r + 1).join(', ') })}</p>
          )}
          <LabGrid v={v} diffOnly={diffOnly} stale={!inStep || labStale} />
        </>
      )}
    </section>
  );
}
