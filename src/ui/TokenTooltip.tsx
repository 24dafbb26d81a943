// Details of the hovered or focused chip: one shared element, positioned next to the chip.
import { useLayoutEffect, useRef, useState } from 'react';
import { FLAG_END_OF_TURN, FLAG_STRADDLES, FLAG_TYPED_SPECIAL, ROLE_CODES, type LabelColumns, type TokenColumns } from '../worker/dataProtocol';
import { formatWeight } from './TokenChip';
import { IGNORE_INDEX } from '../data/labels';
import type { Probe } from './TokenList';
import type { HeatCell } from './train/HeatmapControls';
import { useTranslation } from 'react-i18next';

const GAP_PX = 6;

function rolesOf(mask: number, name: (role: string) => string): string {
  return ROLE_CODES.filter((_, k) => mask & (1 << k)).map(name).join(' + ');
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
  const { t: tr } = useTranslation('tokens');

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
  const state = label === IGNORE_INDEX ? tr('tooltip.masked') : weight < 1 ? tr('tooltip.partial', { weight: formatWeight(weight) }) : tr('tooltip.trained');

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
        <span className={`role-pill role-${role}`}>{tr(`role.${role}`)}</span>
      </div>
      <dl>
        <dt>{tr('tooltip.position')}</dt>
        <dd>{t}</dd>
        <dt>{tr('tooltip.tokenId')}</dt>
        <dd>{id}</dd>
        <dt>{tr('tooltip.label')}</dt>
        <dd>
          <code>{label}</code> ({state})
        </dd>
        <dt>{tr('tooltip.weight')}</dt>
        <dd>{formatWeight(weight)}</dd>
        <dt>{tr('tooltip.predictedBy')}</dt>
        <dd>
          {t === 0 ? tr('tooltip.nothing') : tr('tooltip.predicted', { prev: t - 1, t })}
        </dd>
      </dl>
      {heat && (
        <dl className="tt-heat" data-testid="tooltip-heat">
          <dt>{tr('tooltip.runLabel')}</dt>
          <dd>
            <code>{heat.label}</code>
          </dd>
          <dt>{tr('tooltip.loss')}</dt>
          <dd>{Number.isFinite(heat.loss) ? tr('tooltip.lossValue', { loss: heat.loss.toFixed(3), p: heat.prob.toPrecision(3) }) : tr('tooltip.neverPredicted')}</dd>
          <dt>‖∂L/∂logits‖</dt>
          <dd>{heat.dlogit.toExponential(2)}</dd>
          <dt>‖∂L/∂embedding‖</dt>
          <dd>{heat.dembed.toExponential(2)}</dd>
        </dl>
      )}
      {(flags & FLAG_STRADDLES) !== 0 && (
        <p className="tt-note">
          {tr('tooltip.straddles', { roles: rolesOf(tokens.roleMasks[t], (r) => tr(`role.${r}`)) })}
        </p>
      )}
      {(flags & FLAG_END_OF_TURN) !== 0 && <p className="tt-note">{tr('tooltip.endOfTurn')}</p>}
      {(flags & FLAG_TYPED_SPECIAL) !== 0 && (
        <p className="tt-note tt-warn" data-testid="tooltip-typed-special">
          {tr('tooltip.typed', { message: tokens.messages[t], text: JSON.stringify(text), id })}
        </p>
      )}
      {override && <p className="tt-note">{tr('tooltip.override', { override: tr(override === 'train' ? 'tooltip.overrideTrain' : 'tooltip.overrideMask') })}</p>}
      {cutAt !== null && t >= cutAt && <p className="tt-note">{tr('tooltip.beyondCut', { at: cutAt })}</p>}
    </div>
  );
}
