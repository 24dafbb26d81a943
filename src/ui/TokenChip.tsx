// One token as a chip. Props are primitives only, so memo() skips every chip whose token, label,
// weight and flags did not change (a hand override re-renders one chip, not thousands).
// Click / Enter / Space are handled by delegation on the list (TokenList), not per chip.
import { memo, type CSSProperties } from 'react';
import { TOKEN_ROLES, type TokenRole } from '../data/types';
import { IGNORE_INDEX } from '../data/labels';
import type { HeatCell } from './train/HeatmapControls';
import i18n from './i18n';

export interface TokenChipProps {
  index: number;
  /** Decoded piece with whitespace made visible, one line. Empty: a partial UTF-8 character. */
  text: string;
  id: number;
  label: number;
  weight: number;
  role: TokenRole;
  straddles: boolean;
  endOfTurn: boolean;
  /** A special token whose text was typed in a message (not written by the chat template). */
  typedSpecial: boolean;
  /** At or after the context cut: the trainer would drop it. */
  beyondCut: boolean;
  override: 'train' | 'mask' | undefined;
  /** The one chip in the list reachable with Tab (roving tabindex). */
  tabbable: boolean;
  /** The tooltip currently describes this chip. */
  described: boolean;
  /** Training heatmap values for this token (one object per heatmap result, so memo holds). */
  heat?: HeatCell;
  /** The page's language: a change re-renders the chip (its accessible name is translated). */
  lng: string;
}

/** A heatmap number as put in data-* attributes (NaN: no value, e.g. token 0's loss). */
const heatAttr = (v: number) => (Number.isFinite(v) ? String(v) : 'NaN');

/** Weight as shown and as put in data-weight: at most 4 decimals, no float32 noise. */
export const formatWeight = (w: number) => String(Number(w.toFixed(4)));

/** The chips' words in one language, translated once (a sample has thousands of chips). */
interface ChipWords {
  /** Template with {index}, {text}, {id}, {label}, {state}, {role} left to fill. */
  name: string;
  weight: string;
  partialChar: string;
  trained: string;
  masked: string;
  endOfTurn: string;
  straddles: string;
  typed: string;
  overrideTrain: string;
  overrideMask: string;
  beyondCut: string;
  typedTitle: string;
  roles: Map<string, string>;
}
const chipWordsCache = new Map<string, ChipWords>();
function chipWords(lng: string): ChipWords {
  let w = chipWordsCache.get(lng);
  if (!w) {
    const t = i18n.getFixedT(lng);
    w = {
      name: t('tokens:chip.label', { index: '{index}', text: '{text}', id: '{id}', label: '{label}', state: '{state}', role: '{role}' }),
      weight: t('tokens:chip.weight', { weight: '{weight}' }),
      partialChar: t('tokens:chip.partialChar'),
      trained: t('tokens:chip.trained'),
      masked: t('tokens:chip.masked'),
      endOfTurn: t('tokens:chip.endOfTurn'),
      straddles: t('tokens:chip.straddles'),
      typed: t('tokens:chip.typed'),
      overrideTrain: t('tokens:chip.override', { override: t('tokens:tooltip.overrideTrain') }),
      overrideMask: t('tokens:chip.override', { override: t('tokens:tooltip.overrideMask') }),
      beyondCut: t('tokens:chip.beyondCut'),
      typedTitle: t('tokens:chip.typedTitle'),
      roles: new Map(TOKEN_ROLES.map((r) => [r, t(`tokens:role.${r}`)])),
    };
    chipWordsCache.set(lng, w);
  }
  return w;
}
const fill = (template: string, values: Record<string, string | number>) => template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));

/** The chip's accessible name: position, text, id, label and whether it trains, role, and its flags. */
function chipName(p: TokenChipProps, masked: boolean, partial: boolean): string {
  const w = chipWords(p.lng);
  const state = masked ? w.masked : partial ? fill(w.weight, { weight: formatWeight(p.weight) }) : w.trained;
  return (
    fill(w.name, { index: p.index, text: p.text === '' ? w.partialChar : p.text, id: p.id, label: p.label, state, role: w.roles.get(p.role) ?? p.role }) +
    (p.endOfTurn ? w.endOfTurn : '') +
    (p.straddles ? w.straddles : '') +
    (p.typedSpecial ? w.typed : '') +
    (p.override ? (p.override === 'train' ? w.overrideTrain : w.overrideMask) : '') +
    (p.beyondCut ? w.beyondCut : '')
  );
}

export const TokenChip = memo(function TokenChip(p: TokenChipProps) {
  const masked = p.label === IGNORE_INDEX;
  const partial = !masked && p.weight < 1;
  const cls =
    `tok role-${p.role}` +
    (masked ? ' masked' : partial ? ' partial' : ' trained') +
    (p.straddles ? ' straddles' : '') +
    (p.endOfTurn ? ' eot' : '') +
    (p.typedSpecial ? ' typed-special' : '') +
    (p.beyondCut ? ' beyond-cut' : '') +
    (p.override ? ' overridden' : '') +
    (p.heat ? ' heat' : '');
  const style: CSSProperties | undefined =
    partial || p.heat ? ({ ...(partial ? { '--w': p.weight } : {}), ...(p.heat ? { '--heat': p.heat.intensity } : {}) } as CSSProperties) : undefined;
  return (
    <button
      type="button"
      className={cls}
      tabIndex={p.tabbable ? 0 : -1}
      data-index={p.index}
      data-token-id={p.id}
      data-label={p.label}
      data-role={p.role}
      data-weight={formatWeight(p.weight)}
      data-straddles={p.straddles || undefined}
      data-typed-special={p.typedSpecial || undefined}
      data-override={p.override}
      data-beyond-cut={p.beyondCut || undefined}
      data-loss={p.heat ? heatAttr(p.heat.loss) : undefined}
      data-prob={p.heat ? heatAttr(p.heat.prob) : undefined}
      data-dlogit={p.heat ? heatAttr(p.heat.dlogit) : undefined}
      data-dembed={p.heat ? heatAttr(p.heat.dembed) : undefined}
      data-run-label={p.heat?.label}
      aria-pressed={p.override !== undefined}
      aria-describedby={p.described ? 'token-tooltip' : undefined}
      aria-label={chipName(p, masked, partial)}
      style={style}
    >
      {p.typedSpecial && (
        <span className="tok-typed" aria-hidden="true" title={chipWords(p.lng).typedTitle}>
          ⚠
        </span>
      )}
      <span className={`tok-text${p.text === '' ? ' tok-empty' : ''}`}>{p.text}</span>
      <span className="tok-meta">
        <span className="tok-id">{p.id}</span>
        <span className="tok-label">{p.label}</span>
        {partial && <span className="tok-weight">×{formatWeight(p.weight)}</span>}
      </span>
    </button>
  );
});
