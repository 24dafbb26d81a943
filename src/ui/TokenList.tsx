// The chips, in order, wrapped like text. Rendering strategy for big samples:
// - tokens are grouped in chunks of ~CHUNK_TOKENS, split at newline tokens when possible so a
//   chunk boundary falls where the text breaks a line anyway;
// - up to EAGER_TOKENS every chunk is rendered; above that only chunks within
//   OBSERVER_MARGIN_PX of the visible area are, the others keep their measured (or estimated)
//   height, so the scrollbar stays honest (virtualisation by chunk; works with wrapped text);
// - keyboard: one Tab stop (roving tabindex); arrows, Home/End, PageUp/PageDown move between
//   chips and render the target chunk first. Enter/Space (native button click) toggles the
//   token's hand override; so does a mouse click.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { visibleWhitespace } from '../data/whitespace';
import { FLAG_END_OF_TURN, FLAG_STRADDLES, FLAG_TYPED_SPECIAL, ROLE_CODES, type LabelColumns, type TokenColumns } from '../worker/dataProtocol';
import { TokenChip } from './TokenChip';
import type { HeatCell } from './train/HeatmapControls';

const CHUNK_TOKENS = 400;
const EAGER_TOKENS = 3000;
const OBSERVER_MARGIN_PX = 800;
/** Height estimate for chunks never rendered: chips per row from the list width, rows × ROW_PX. */
const AVG_CHIP_PX = 56;
const ROW_PX = 42;
const PAGE_TOKENS = 100;

export interface Probe {
  index: number;
  rect: DOMRect;
}

interface Layout {
  /** Display text per token (visible whitespace, one line). */
  text: string[];
  /** Token i ends with a newline: a line break follows its chip. */
  breakAfter: Uint8Array;
  /** Chunk c covers tokens [bounds[c], bounds[c+1]). */
  bounds: number[];
}

function layoutOf(tokens: TokenColumns): Layout {
  const T = tokens.ids.length;
  const text = new Array<string>(T);
  const breakAfter = new Uint8Array(T);
  for (let i = 0; i < T; i++) {
    const s = tokens.rendered.slice(tokens.starts[i], tokens.ends[i]);
    text[i] = visibleWhitespace(s).replaceAll('\n', '');
    breakAfter[i] = s.endsWith('\n') ? 1 : 0;
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
  return { text, breakAfter, bounds };
}

interface ChunkProps {
  from: number;
  to: number;
  live: boolean;
  /** Height to hold while not rendered (px). */
  placeholderPx: number;
  layout: Layout;
  tokens: TokenColumns;
  labels: LabelColumns;
  overrides: Record<number, 'train' | 'mask'>;
  cutAt: number | null;
  /** Index of the tabbable chip if it is in this chunk, else -1 (keeps other chunks memoized). */
  active: number;
  described: number;
  /** Training heatmap cells by token index, or null. */
  heat: readonly (HeatCell | undefined)[] | null;
  chunkRef(el: HTMLDivElement | null, from: number): void;
  onMeasured(from: number, px: number): void;
}

const Chunk = memo(function Chunk(p: ChunkProps) {
  const ref = useRef<HTMLDivElement | null>(null);
  const { chunkRef, from, onMeasured, live } = p;
  const setRef = useCallback(
    (el: HTMLDivElement | null) => {
      ref.current = el;
      chunkRef(el, from);
    },
    [chunkRef, from],
  );
  useLayoutEffect(() => {
    if (live && ref.current) onMeasured(from, ref.current.offsetHeight);
  });
  if (!live) {
    return <div ref={setRef} className="chunk placeholder" data-chunk={from} style={{ height: p.placeholderPx }} />;
  }
  const { tokens, labels, layout, cutAt } = p;
  const out: ReactNode[] = [];
  for (let i = p.from; i < p.to; i++) {
    if (i === cutAt) {
      out.push(
        <span key="cut" className="cut-marker" role="separator" data-testid="cut-marker" aria-label={`Context cut: tokens from ${cutAt} on are dropped`}>
          ✂ context cut at {cutAt}
        </span>,
      );
    }
    const f = tokens.flags[i];
    out.push(
      <TokenChip
        key={i}
        index={i}
        text={layout.text[i]}
        id={tokens.ids[i]}
        label={labels.labels[i]}
        weight={labels.weights[i]}
        role={ROLE_CODES[tokens.roles[i]]}
        straddles={(f & FLAG_STRADDLES) !== 0}
        endOfTurn={(f & FLAG_END_OF_TURN) !== 0}
        typedSpecial={(f & FLAG_TYPED_SPECIAL) !== 0}
        beyondCut={cutAt !== null && i >= cutAt}
        override={p.overrides[i]}
        tabbable={i === p.active}
        described={i === p.described}
        heat={p.heat?.[i]}
      />,
    );
    if (layout.breakAfter[i] && i + 1 < p.to) out.push(<br key={`br${i}`} />);
  }
  return (
    <div ref={setRef} className="chunk" data-chunk={from}>
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
}

export function TokenList({ tokens, labels, overrides, stale, described, onToggle, onProbe, heat = null }: TokenListProps) {
  const T = tokens.ids.length;
  const layout = useMemo(() => layoutOf(tokens), [tokens]);
  const eager = T <= EAGER_TOKENS;
  const cutAt = labels.context.cutAt;
  const listRef = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const activeIdx = Math.min(active, Math.max(0, T - 1));
  const focusPending = useRef<number | null>(null);

  // ---- which chunks are near the viewport (only used above EAGER_TOKENS) ----
  const [near, setNear] = useState<ReadonlySet<number>>(() => new Set([0]));
  const heights = useRef(new Map<number, number>());
  const observer = useRef<IntersectionObserver | null>(null);
  const pendingEls = useRef(new Map<number, HTMLDivElement>());
  useEffect(() => {
    heights.current.clear();
    setNear(new Set([0]));
  }, [tokens]);
  useEffect(() => {
    if (eager || !listRef.current) return;
    const io = new IntersectionObserver(
      (entries) => {
        setNear((prev) => {
          const next = new Set(prev);
          for (const e of entries) {
            const from = Number((e.target as HTMLElement).dataset.chunk);
            if (e.isIntersecting) next.add(from);
            else next.delete(from);
          }
          return next;
        });
      },
      { root: listRef.current, rootMargin: `${OBSERVER_MARGIN_PX}px 0px` },
    );
    observer.current = io;
    for (const el of pendingEls.current.values()) io.observe(el);
    return () => {
      io.disconnect();
      observer.current = null;
    };
  }, [eager, tokens]);
  const chunkRef = useCallback((el: HTMLDivElement | null, from: number) => {
    const old = pendingEls.current.get(from);
    if (old && old !== el) observer.current?.unobserve(old);
    if (el) {
      pendingEls.current.set(from, el);
      observer.current?.observe(el);
    } else pendingEls.current.delete(from);
  }, []);
  const onMeasured = useCallback((from: number, px: number) => {
    heights.current.set(from, px);
  }, []);

  const estimate = (from: number, to: number) => {
    const width = listRef.current?.clientWidth || 800;
    let breaks = 0;
    for (let i = from; i < to; i++) breaks += layout.breakAfter[i];
    return (Math.ceil(((to - from) * AVG_CHIP_PX) / width) + breaks) * ROW_PX;
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

  const activeChunk = layout.bounds.findIndex((b, c) => activeIdx >= b && activeIdx < layout.bounds[c + 1]);
  const chunks: ReactNode[] = [];
  for (let c = 0; c + 1 < layout.bounds.length; c++) {
    const from = layout.bounds[c];
    const to = layout.bounds[c + 1];
    const has = (i: number | null) => (i !== null && i >= from && i < to ? i : -1);
    chunks.push(
      <Chunk
        key={`${tokens.key}:${from}`}
        from={from}
        to={to}
        live={eager || near.has(from) || c === activeChunk}
        placeholderPx={heights.current.get(from) ?? estimate(from, to)}
        layout={layout}
        tokens={tokens}
        labels={labels}
        overrides={overrides}
        cutAt={cutAt}
        active={has(activeIdx)}
        described={has(described)}
        heat={heat}
        chunkRef={chunkRef}
        onMeasured={onMeasured}
      />,
    );
  }

  return (
    <div
      ref={listRef}
      className={`token-list${stale ? ' stale' : ''}`}
      data-testid="token-list"
      role="group"
      aria-label={`${T} tokens. Arrow keys move between tokens; Enter or Space trains or masks one by hand.`}
      onKeyDown={onKeyDown}
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
