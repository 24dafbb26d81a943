// Details of the hovered or focused chip: one shared element, positioned next to the chip.
import { useLayoutEffect, useRef, useState } from 'react';
import { FLAG_END_OF_TURN, FLAG_STRADDLES, FLAG_TYPED_SPECIAL, ROLE_CODES, type LabelColumns, type TokenColumns } from '../worker/dataProtocol';
import { formatWeight } from './TokenChip';
import { IGNORE_INDEX } from '../data/labels';
import type { Probe } from './TokenList';
import type { HeatCell } from './train/HeatmapControls';

const GAP_PX = 6;

function rolesOf(mask: number): string {
  return ROLE_CODES.filter((_, k) => mask & (1 << k)).join(' + ');
}

export function TokenTooltip({
  probe,
  tokens,
  labels,
  override,
  heat,
}: {
  probe: Probe;
  tokens: TokenColumns;
  labels: LabelColumns;
  override: 'train' | 'mask' | undefined;
  /** The training heatmap's numbers for this token, when one is shown. */
  heat?: HeatCell;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState<{ left: number; top: number } | null>(null);
  const t = probe.index;

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const { rect } = probe;
    const w = el.offsetWidth;
    const h = el.offsetHeight;
    const left = Math.min(Math.max(GAP_PX, rect.left), innerWidth - w - GAP_PX);
    const below = rect.bottom + GAP_PX;
    const top = below + h > innerHeight ? Math.max(GAP_PX, rect.top - h - GAP_PX) : below;
    setPos({ left, top });
  }, [probe]);

  if (t < 0 || t >= tokens.ids.length) return null;
  const id = tokens.ids[t];
  const label = labels.labels[t];
  const weight = labels.weights[t];
  const flags = tokens.flags[t];
  const role = ROLE_CODES[tokens.roles[t]];
  const text = tokens.rendered.slice(tokens.starts[t], tokens.ends[t]);
  const cutAt = labels.context.cutAt;
  const state = label === IGNORE_INDEX ? 'masked' : weight < 1 ? `partial weight ${formatWeight(weight)}` : 'trained';

  return (
    <div
      ref={ref}
      id="token-tooltip"
      role="tooltip"
      className="token-tooltip"
      data-testid="token-tooltip"
      style={pos ? { left: pos.left, top: pos.top } : { visibility: 'hidden' }}
    >
      <div className="tt-head">
        <span className="tt-text">{JSON.stringify(text)}</span>
        <span className={`role-pill role-${role}`}>{role}</span>
      </div>
      <dl>
        <dt>Position</dt>
        <dd>{t}</dd>
        <dt>Token id</dt>
        <dd>{id}</dd>
        <dt>Label</dt>
        <dd>
          <code>{label}</code> ({state})
        </dd>
        <dt>Weight</dt>
        <dd>{formatWeight(weight)}</dd>
        <dt>Predicted by</dt>
        <dd>
          {t === 0
            ? 'nothing: position 0 is never a target (the loss shifts labels by one)'
            : `position ${t - 1} (logits[${t - 1}] → labels[${t}])`}
        </dd>
      </dl>
      {heat && (
        <dl className="tt-heat" data-testid="tooltip-heat">
          <dt>Run label</dt>
          <dd>
            <code>{heat.label}</code>
          </dd>
          <dt>Loss</dt>
          <dd>{Number.isFinite(heat.loss) ? `${heat.loss.toFixed(3)} (p = ${heat.prob.toPrecision(3)})` : '— (never predicted)'}</dd>
          <dt>‖∂L/∂logits‖</dt>
          <dd>{heat.dlogit.toExponential(2)}</dd>
          <dt>‖∂L/∂embedding‖</dt>
          <dd>{heat.dembed.toExponential(2)}</dd>
        </dl>
      )}
      {(flags & FLAG_STRADDLES) !== 0 && (
        <p className="tt-note">
          Straddles roles: {rolesOf(tokens.roleMasks[t])}. One token holds characters of more than one role, so a
          mask cannot split it.
        </p>
      )}
      {(flags & FLAG_END_OF_TURN) !== 0 && <p className="tt-note">Closes an assistant turn (end-of-turn token).</p>}
      {(flags & FLAG_TYPED_SPECIAL) !== 0 && (
        <p className="tt-note tt-warn" data-testid="tooltip-typed-special">
          Special-token text typed in message {tokens.messages[t]}: the text {JSON.stringify(text)} is read as the special
          token (id {id}), a control token, not characters. To encode it as text, tick “Encode special-token text as plain
          characters” in the settings.
        </p>
      )}
      {override && <p className="tt-note">Hand override: {override}. Click again to undo.</p>}
      {cutAt !== null && t >= cutAt && <p className="tt-note">Beyond the context cut at {cutAt}: dropped.</p>}
    </div>
  );
}
