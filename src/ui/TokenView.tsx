// The token view panel: counts, legend, the chips, the hover/focus details and the rendered text.
import { useStore } from '../store';
import { useShallow } from 'zustand/react/shallow';
import { useCallback, useEffect, useState } from 'react';
import { TOKEN_ROLES, type TokenRole } from '../data/types';
import type { LabelColumns, TokenColumns } from '../worker/dataProtocol';
import { TokenList, type Probe } from './TokenList';
import { TokenTooltip } from './TokenTooltip';
import { HeatmapControls, useHeatCells } from './train/HeatmapControls';
import { useTranslation } from 'react-i18next';
import { useMessage } from './i18n/useMessage';

function Stats({ tokens, labels }: { tokens: TokenColumns; labels: LabelColumns }) {
  const T = tokens.ids.length;
  const cut = labels.context.cutAt;
  const { t } = useTranslation('tokens');
  return (
    <div className="stats" data-testid="stats">
      <dl className="stat-row">
        <div>
          <dt>{t('stats.tokens')}</dt>
          <dd data-testid="count-tokens">{T.toLocaleString()}</dd>
        </div>
        <div className="stat-trained">
          <dt>{t('stats.trained')}</dt>
          <dd data-testid="count-trained">{labels.trained.toLocaleString()}</dd>
        </div>
        {labels.partial > 0 && (
          <div className="stat-partial">
            <dt>{t('stats.partial')}</dt>
            <dd data-testid="count-partial">{labels.partial.toLocaleString()}</dd>
          </div>
        )}
        <div className="stat-masked">
          <dt>{t('stats.masked')}</dt>
          <dd data-testid="count-masked">{labels.masked.toLocaleString()}</dd>
        </div>
        {cut !== null && (
          <div className="stat-cut">
            <dt>{t('stats.kept')}</dt>
            <dd data-testid="count-kept">
              {t('stats.keptOf', { kept: cut.toLocaleString(), total: T.toLocaleString() })}
            </dd>
          </div>
        )}
      </dl>
      <table className="role-table">
        <caption className="visually-hidden">{t('stats.caption')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('stats.role')}</th>
            <th scope="col">{t('stats.tokens')}</th>
            <th scope="col">{t('stats.trained')}</th>
          </tr>
        </thead>
        <tbody>
          {TOKEN_ROLES.filter((r) => !SOMETIMES.has(r) || labels.perRole[r].tokens > 0).map((r) => (
            <tr key={r} data-testid={`role-count-${r}`}>
              <th scope="row">
                <span className={`swatch role-${r}`} aria-hidden="true" />
                {t(`role.${r}`)}
              </th>
              <td>{labels.perRole[r].tokens.toLocaleString()}</td>
              <td>{labels.perRole[r].trained.toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Roles only some chats have: their count rows appear when the sample has such tokens. */
const SOMETIMES: ReadonlySet<TokenRole> = new Set(['reasoning', 'tool_call', 'tool']);

function Legend() {
  const { t } = useTranslation('tokens');
  return (
    <ul className="legend" aria-label={t('legend.label')}>
      {TOKEN_ROLES.map((r) => (
        <li key={r}>
          <span className={`swatch role-${r}`} aria-hidden="true" />
          {t(`role.${r}`)}
        </li>
      ))}
      <li>
        <span className="tok-sample trained" aria-hidden="true">
          id
        </span>
        {t('legend.trained')}
      </li>
      <li>
        <span className="tok-sample masked" aria-hidden="true">
          -100
        </span>
        {t('legend.masked')}
      </li>
      <li>
        <span className="tok-sample straddles" aria-hidden="true" />
        {t('legend.straddles')}
      </li>
      <li>
        <span className="tok-sample overridden" aria-hidden="true" />
        {t('legend.override')}
      </li>
      <li>
        <span className="tok-sample beyond-cut" aria-hidden="true" />
        {t('legend.beyondCut')}
      </li>
      <li className="ws-key">{t('legend.whitespace')}</li>
    </ul>
  );
}

function Rendered({ tokens }: { tokens: TokenColumns }) {
  const [open, setOpen] = useState(false);
  const { t } = useTranslation('tokens');
  return (
    <details className="rendered" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        {t('rendered.summary', { chars: tokens.rendered.length.toLocaleString() })}{' '}
        <span className={tokens.roundTrip ? 'ok' : 'bad'} data-testid="roundtrip">
          {tokens.roundTrip ? t('rendered.ok') : t('rendered.bad')}
        </span>
      </summary>
      {open && <pre data-testid="rendered-text">{tokens.rendered}</pre>}
    </details>
  );
}

/** A stale view's indices may not match the input being edited: overriding them would mislead. */
const ignoreToggle = () => {};

export function TokenView() {
  const tokens = useStore((s) => s.tokens);
  const labels = useStore((s) => s.labels);
  // Shallow: every edit resets the overrides to a fresh {}, which must not re-render the chips.
  const overrides = useStore(useShallow((s) => s.overrides));
  const stale = useStore((s) => s.stale);
  const toggleOverride = useStore((s) => s.toggleOverride);
  const viewShown = useStore((s) => s.viewShown);
  const lastRunMs = useStore((s) => s.lastRunMs);
  const [probe, setProbe] = useState<Probe | null>(null);
  const { t } = useTranslation('tokens');
  const say = useMessage();
  const heat = useHeatCells(tokens);
  // The chips show the heatmap over a few tasks on big samples: its badge waits for them.
  const [heatShown, setHeatShown] = useState<typeof heat>(null);
  const onShown = useCallback(
    (l: LabelColumns, h: typeof heat) => {
      viewShown(l);
      setHeatShown(h);
    },
    [viewShown],
  );
  // The tooltip is placed in viewport coordinates: any scroll moves the chip away from it.
  useEffect(() => {
    if (!probe) return;
    const hide = () => setProbe(null);
    addEventListener('scroll', hide, { capture: true, passive: true });
    return () => removeEventListener('scroll', hide, { capture: true });
  }, [probe]);
  const onProbe = useCallback(
    (p: Probe | null) => setProbe((prev) => (prev?.index === p?.index && p?.rect.top === prev?.rect.top ? prev : p)),
    [],
  );

  return (
    <section className="panel token-view" aria-labelledby="token-view-h" data-stale={stale}>
      <div className="panel-head">
        <h2 id="token-view-h">{t('title')}</h2>
        {tokens && (
          <span className="muted small">
            {t('context', { tokenizer: tokens.tokenizerLabel, length: labels?.contextLength.toLocaleString() })}
            {lastRunMs !== null && ` · ${Math.round(lastRunMs)} ms`}
          </span>
        )}
        {stale && (
          <span className="stale-badge" data-testid="stale-badge">
            {t('stale')}
          </span>
        )}
      </div>
      {!tokens || !labels ? (
        <p className="empty">{t('empty')}</p>
      ) : (
        <>
          <Stats tokens={tokens} labels={labels} />
          <Legend />
          <HeatmapControls tokens={tokens} chipsShowIt={heat !== null && heatShown === heat} />
          {tokens.notes.length > 0 && (
            <ul className="notes" data-testid="sample-notes">
              {tokens.notes.map((n, i) => (
                <li key={n}>{say(tokens.noteMsgs?.[i] ?? n)}</li>
              ))}
            </ul>
          )}
          <TokenList
            tokens={tokens}
            labels={labels}
            overrides={overrides}
            stale={stale}
            described={probe?.index ?? null}
            onToggle={stale ? ignoreToggle : toggleOverride}
            onProbe={onProbe}
            heat={heat}
            onShown={onShown}
          />
          {probe && (
            <TokenTooltip probe={probe} tokens={tokens} labels={labels} override={overrides[probe.index]} heat={heat?.[probe.index]} />
          )}
          <Rendered tokens={tokens} />
        </>
      )}
    </section>
  );
}
