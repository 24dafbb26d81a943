// The chips, in order, wrapped like text. Rendering strategy, so that no main-thread task grows
// with the sample (bench/mainthread.md has the numbers):
// - tokens are grouped in chunks of ~CHUNK_TOKENS, split at newline tokens when possible so a
//   chunk boundary falls where the text breaks a line anyway;
// - windowing: up to EAGER_TOKENS every chunk is rendered; above that only chunks within
//   MARGIN_PX of the list's visible part are (and the active chip's). A run of chunks not
//   rendered is one spacer of their measured (or estimated) height, so the scrollbar stays
//   honest and a 300k-token sample costs a few hundred elements, not one per chunk;
// - progressive: one render brings at most ~stepChips changed chips up to date; the other chunks
//   keep what they showed (or stay a spacer) and follow in the next tasks. stepChips adapts so a
//   step takes about STEP_MS. When every rendered chunk shows the latest props, onShown(labels)
//   is called: the store keeps `busy` until then, so "idle" still means "the view shows it";
// - keyboard: one Tab stop (roving tabindex); arrows, Home/End, PageUp/PageDown move between
//   chips and render the target chunk first. Enter/Space (native button click) toggles the
//   token's hand override; so does a mouse click.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { visibleWhitespace } from '../data/whitespace';
import { FLAG_END_OF_TURN, FLAG_STRADDLES, FLAG_TYPED_SPECIAL, ROLE_CODES, type LabelColumns, type TokenColumns } from '../worker/dataProtocol';
import { TokenChip } from './TokenChip';
import type { HeatCell } from './train/HeatmapControls';
import { useTranslation } from 'react-i18next';

const CHUNK_TOKENS = 64;
const EAGER_TOKENS = 3000;
/** Chunks this far above or below the visible part of the list are rendered too. */
const MARGIN_PX = 800;
/** The scroll position is followed in steps of this many pixels (a re-render per step, not per pixel). */
const SCROLL_STEP_PX = 200;
/** Height estimate for chunks never rendered: chips per row from the list width, rows × ROW_PX. */
const AVG_CHIP_PX = 56;
const ROW_PX = 42;
const PAGE_TOKENS = 100;
/** A render's budget: about this long for the chips it creates or changes. */
const STEP_MS = 20;
/** Bounds of the per-render chip budget (the first chunk of a render is always allowed). */
const MIN_STEP_CHIPS = 64;
const MAX_STEP_CHIPS = 8000;
/** An unchanged chip still costs a props comparison: this fraction of a changed one. */
const UNCHANGED_COST = 1 / 32;

/** Measured cost of one changed chip (render, commit, layout), shared by every list. */
let msPerChip = 0.25;

export interface Probe {
  index: number;
  rect: DOMRect;
}

interface Layout {
  /** Token i ends with a newline: a line break follows its chip. */
  breakAfter: Uint8Array;
  /** Chunk c covers tokens [bounds[c], bounds[c+1]). */
  bounds: number[];
  /** Newline tokens in chunk c (its estimated height). */
  breaks: number[];
}

function layoutOf(tokens: TokenColumns): Layout {
  const T = tokens.ids.length;
  const breakAfter = new Uint8Array(T);
  for (let i = 0; i < T; i++) {
    const end = tokens.ends[i];
    breakAfter[i] = end > tokens.starts[i] && tokens.rendered.charCodeAt(end - 1) === 10 ? 1 : 0;
  }
  const bounds = [0];
  let from = 0;
  while (from + CHUNK_TOKENS < T) {
    const limit = Math.min(T, from + 2 * CHUNK_TOKENS);
    let next = from + CHUNK_TOKENS;
    while (next < limit && !breakAfter[next - 1]) next++;
    if (next >= limit) next = from + CHUNK_TOKENS; // no newline nearby: split mid-line
    bounds.push(next);
    from = next;
  }
  bounds.push(T);
  const breaks: number[] = [];
  for (let c = 0; c + 1 < bounds.length; c++) {
    let n = 0;
    for (let i = bounds[c]; i < bounds[c + 1]; i++) n += breakAfter[i];
    breaks.push(n);
  }
  return { breakAfter, bounds, breaks };
}

/** Display text of tokens [from, to): visible whitespace, one line. */
function chunkText(tokens: TokenColumns, from: number, to: number): string[] {
  const text: string[] = [];
  for (let i = from; i < to; i++) text.push(visibleWhitespace(tokens.rendered.slice(tokens.starts[i], tokens.ends[i])));
  return text;
}

/** Everything a chunk's chips show besides focus: a chunk is up to date when it shows the list's current View. */
interface View {
  tokens: TokenColumns;
  layout: Layout;
  labels: LabelColumns;
  overrides: Record<number, 'train' | 'mask'>;
  /** Training heatmap cells by token index, or null. */
  heat: readonly (HeatCell | undefined)[] | null;
  /** The page's language (the chips' accessible names). */
  lng: string;
}

const beyondCut = (v: View, i: number) => v.labels.context.cutAt !== null && i >= v.labels.context.cutAt;

/** What bringing tokens [from, to) from `old` (undefined: not rendered) to `next` costs, in changed chips. */
function changeCost(from: number, to: number, old: View | undefined, next: View): number {
  if (!old || old.tokens !== next.tokens || old.lng !== next.lng) return to - from;
  const a = old.labels, b = next.labels;
  let changed = 0;
  for (let i = from; i < to; i++) {
    if (
      a.labels[i] !== b.labels[i] || a.weights[i] !== b.weights[i] || old.overrides[i] !== next.overrides[i] ||
      old.heat?.[i] !== next.heat?.[i] || beyondCut(old, i) !== beyondCut(next, i)
    ) changed++;
  }
  return changed + (to - from - changed) * UNCHANGED_COST + (a.context.cutAt !== b.context.cutAt ? 1 : 0);
}

interface ChunkProps {
  from: number;
  to: number;
  view: View;
  /** Index of the tabbable chip if it is in this chunk, else -1 (keeps other chunks memoized). */
  active: number;
  described: number;
  /** After each commit: the View this chunk now shows and its height; on unmount, null. */
  onCommitted(from: number, view: View | null, px: number): void;
}

const Chunk = memo(function Chunk({ from, to, view, active, described, onCommitted }: ChunkProps) {
  const ref = useRef<HTMLDivElement | null>(null);
  const { tokens, labels, layout, overrides, heat, lng } = view;
  const { t } = useTranslation('tokens', { lng });
  const text = useMemo(() => chunkText(tokens, from, to), [tokens, from, to]);
  useLayoutEffect(() => {
    onCommitted(from, view, ref.current?.offsetHeight ?? 0);
    return () => onCommitted(from, null, 0);
  });
  const cutAt = labels.context.cutAt;
  const out: ReactNode[] = [];
  for (let i = from; i < to; i++) {
    if (i === cutAt) {
      out.push(
        <span key="cut" className="cut-marker" role="separator" data-testid="cut-marker" aria-label={t('list.cutLabel', { at: cutAt })}>
          {t('list.cut', { at: cutAt })}
        </span>,
      );
    }
    const f = tokens.flags[i];
    out.push(
      <TokenChip
        key={i}
        index={i}
        text={text[i - from]}
        id={tokens.ids[i]}
        label={labels.labels[i]}
        weight={labels.weights[i]}
        role={ROLE_CODES[tokens.roles[i]]}
        straddles={(f & FLAG_STRADDLES) !== 0}
        endOfTurn={(f & FLAG_END_OF_TURN) !== 0}
        typedSpecial={(f & FLAG_TYPED_SPECIAL) !== 0}
        beyondCut={cutAt !== null && i >= cutAt}
        override={overrides[i]}
        tabbable={i === active}
        described={i === described}
        heat={heat?.[i]}
        lng={lng}
      />,
    );
    if (layout.breakAfter[i] && i + 1 < to) out.push(<br key={`br${i}`} />);
  }
  return (
    <div ref={ref} className="chunk" data-chunk={from}>
      {out}
    </div>
  );
});

export interface TokenListProps {
  tokens: TokenColumns;
  labels: LabelColumns;
  overrides: Record<number, 'train' | 'mask'>;
  stale: boolean;
  described: number | null;
  onToggle(index: number): void;
  onProbe(probe: Probe | null): void;
  /** Training heatmap cells by token index (the training panel's heatmap), or null. */
  heat?: readonly (HeatCell | undefined)[] | null;
  /** Every rendered chunk shows these labels and heat cells (called after each commit that leaves nothing pending). */
  onShown?(labels: LabelColumns, heat: readonly (HeatCell | undefined)[] | null): void;
}

export function TokenList({ tokens, labels, overrides, stale, described, onToggle, onProbe, heat = null, onShown }: TokenListProps) {
  const T = tokens.ids.length;
  const layout = useMemo(() => layoutOf(tokens), [tokens]);
  const { t, i18n } = useTranslation('tokens');
  const lng = i18n.language;
  const view = useMemo<View>(() => ({ tokens, layout, labels, overrides, heat, lng }), [tokens, layout, labels, overrides, heat, lng]);
  const eager = T <= EAGER_TOKENS;
  const listRef = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const activeIdx = Math.min(active, Math.max(0, T - 1));
  const focusPending = useRef<number | null>(null);
  const startedAt = performance.now();

  // ---- what each chunk shows (from its commits) and how tall it was ----
  const shown = useRef(new Map<number, View>());
  const heights = useMemo(() => new Map<number, number>(), [layout]);
  const onCommitted = useCallback(
    (from: number, v: View | null, px: number) => {
      if (!v) shown.current.delete(from);
      else {
        shown.current.set(from, v);
        if (px > 0) heights.set(from, px);
      }
    },
    [heights],
  );

  // ---- the scroll window (only used above EAGER_TOKENS) ----
  const [scrollStep, setScrollStep] = useState(0);
  const frame = useRef(0);
  const onScroll = () => {
    if (eager || frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const el = listRef.current;
      if (el) setScrollStep(Math.floor(el.scrollTop / SCROLL_STEP_PX));
    });
  };
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const width = listRef.current?.clientWidth || 800;
  const estimate = (c: number) => {
    const n = layout.bounds[c + 1] - layout.bounds[c];
    return (Math.ceil((n * AVG_CHIP_PX) / width) + layout.breaks[c]) * ROW_PX;
  };

  // ---- keyboard + focus ----
  const moveTo = (j: number) => {
    const target = Math.min(Math.max(0, j), T - 1);
    focusPending.current = target;
    setActive(target);
  };
  useEffect(() => {
    const j = focusPending.current;
    if (j === null) return;
    const el = listRef.current?.querySelector<HTMLElement>(`[data-index="${j}"]`);
    if (el) {
      focusPending.current = null;
      el.focus({ preventScroll: true });
      el.scrollIntoView({ block: 'nearest' });
    }
  });

  /** First chip on the next (dir = 1) or previous (dir = -1) visual row, closest in x. */
  const rowNeighbour = (from: number, dir: 1 | -1): number => {
    const list = listRef.current;
    const cur = list?.querySelector<HTMLElement>(`[data-index="${from}"]`);
    if (!list || !cur) return from + dir;
    const r = cur.getBoundingClientRect();
    const x = r.left + r.width / 2;
    let best = from + dir;
    let bestDx = Infinity;
    let rowTop: number | null = null;
    for (let j = from + dir, steps = 0; j >= 0 && j < T && steps < 2 * CHUNK_TOKENS; j += dir, steps++) {
      const el = list.querySelector<HTMLElement>(`[data-index="${j}"]`);
      if (!el) break;
      const q = el.getBoundingClientRect();
      const onOtherRow = dir === 1 ? q.top >= r.bottom - 1 : q.bottom <= r.top + 1;
      if (!onOtherRow) continue;
      rowTop ??= q.top;
      if (Math.abs(q.top - rowTop) > 1) break; // went past the adjacent row
      const dx = Math.abs(q.left + q.width / 2 - x);
      if (dx < bestDx) {
        bestDx = dx;
        best = j;
      }
    }
    return best;
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const idx = Number((e.target as HTMLElement).dataset.index);
    if (!Number.isInteger(idx)) return;
    const to: Record<string, () => number> = {
      ArrowRight: () => idx + 1,
      ArrowLeft: () => idx - 1,
      ArrowDown: () => rowNeighbour(idx, 1),
      ArrowUp: () => rowNeighbour(idx, -1),
      Home: () => 0,
      End: () => T - 1,
      PageDown: () => idx + PAGE_TOKENS,
      PageUp: () => idx - PAGE_TOKENS,
    };
    const f = to[e.key];
    if (!f) return;
    e.preventDefault();
    moveTo(f());
  };

  const chipOf = (e: { target: EventTarget }) => (e.target as HTMLElement).closest<HTMLElement>('[data-index]');
  const probeFrom = (el: HTMLElement | null) =>
    onProbe(el ? { index: Number(el.dataset.index), rect: el.getBoundingClientRect() } : null);

  // ---- which chunks to render, and with which View ----
  const { bounds } = layout;
  const chunkCount = bounds.length - 1;
  let activeChunk = 0;
  while (activeChunk + 1 < chunkCount && bounds[activeChunk + 1] <= activeIdx) activeChunk++;
  const wanted = new Uint8Array(chunkCount);
  if (eager) wanted.fill(1);
  else {
    const viewTop = scrollStep * SCROLL_STEP_PX - MARGIN_PX;
    const viewBottom = (scrollStep + 1) * SCROLL_STEP_PX + (listRef.current?.clientHeight || innerHeight) + MARGIN_PX;
    for (let c = 0, top = 0; c < chunkCount && top < viewBottom; c++) {
      const h = heights.get(bounds[c]) ?? estimate(c);
      if (top + h >= viewTop) wanted[c] = 1;
      top += h;
    }
  }
  wanted[activeChunk] = 1;
  // The active chunk first, then in order; each chunk shows `view` while the budget lasts, else
  // what it showed before (same tokens), else it waits as a spacer.
  const budget = Math.min(MAX_STEP_CHIPS, Math.max(MIN_STEP_CHIPS, STEP_MS / msPerChip));
  const order = [activeChunk, ...Array.from({ length: chunkCount }, (_, c) => c).filter((c) => c !== activeChunk && wanted[c])];
  const showing = new Array<View | null>(chunkCount).fill(null);
  let spent = 0;
  let pending = 0;
  for (const c of order) {
    const old = shown.current.get(bounds[c]);
    if (old === view) {
      showing[c] = view;
      continue;
    }
    const cost = changeCost(bounds[c], bounds[c + 1], old, view);
    if (spent === 0 || spent + cost <= budget) {
      showing[c] = view;
      spent += cost;
    } else {
      showing[c] = old && old.tokens === tokens ? old : null;
      pending++;
    }
  }
  // Learn the cost of a chip from this render (its chunks' layout effects have run by now).
  useLayoutEffect(() => {
    if (spent >= MIN_STEP_CHIPS) msPerChip = 0.7 * msPerChip + (0.3 * (performance.now() - startedAt)) / spent;
  });
  const [, setTick] = useState(0);
  useEffect(() => {
    if (pending === 0) {
      onShown?.(labels, heat);
      return;
    }
    const t = setTimeout(() => setTick((k) => k + 1), 0);
    return () => clearTimeout(t);
  });

  const chunks: ReactNode[] = [];
  for (let c = 0; c < chunkCount; ) {
    const v = showing[c];
    if (v) {
      const from = bounds[c];
      const to = bounds[c + 1];
      const has = (i: number | null) => (i !== null && i >= from && i < to ? i : -1);
      chunks.push(<Chunk key={`${tokens.key}:${from}`} from={from} to={to} view={v} active={has(activeIdx)} described={has(described)} onCommitted={onCommitted} />);
      c++;
      continue;
    }
    let px = 0;
    const first = c;
    for (; c < chunkCount && !showing[c]; c++) px += heights.get(bounds[c]) ?? estimate(c);
    chunks.push(<div key={`${tokens.key}:gap${bounds[first]}`} className="chunk placeholder" aria-hidden="true" style={{ height: px }} />);
  }

  return (
    <div
      ref={listRef}
      className={`token-list${stale ? ' stale' : ''}`}
      data-testid="token-list"
      role="group"
      aria-label={t('list.label', { count: T })}
      onKeyDown={onKeyDown}
      onScroll={onScroll}
      onClick={(e) => {
        const el = chipOf(e);
        if (el) onToggle(Number(el.dataset.index));
      }}
      onMouseOver={(e) => probeFrom(chipOf(e))}
      onMouseLeave={() => onProbe(null)}
      onFocus={(e) => {
        const el = chipOf(e);
        if (el) {
          setActive(Number(el.dataset.index));
          probeFrom(el);
        }
      }}
      onBlur={(e) => {
        if (!listRef.current?.contains(e.relatedTarget as Node | null)) onProbe(null);
      }}
    >
      {chunks}
    </div>
  );
}
