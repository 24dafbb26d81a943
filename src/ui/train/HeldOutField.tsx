// The held-out share beside the optimizer (optimizer.heldOut, in percent): a draft while typed,
// applied on blur or Enter like the optimizer's numbers. Below it, which samples the seed holds out
// (spec/split.ts, the function the training worker uses), or, for the shown training, the ones it held out.
import { useStore } from '../../store';
import { memo, useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { optimizerProblems } from '../../spec/optimizer';
import { englishOf, type Message } from '../../spec/message';
import { useMessage } from '../i18n/useMessage';
import { heldOutSamples } from '../../spec/split';

/** Sample numbers listed before "…". */
const MAX_LISTED = 12;

const percent = (share: number) => Math.round(share * 1000) / 10;

export const HeldOutField = memo(function HeldOutField() {
  const { t } = useTranslation('heldout');
  const o = useStore((s) => s.optimizer);
  const setOptimizer = useStore((s) => s.setOptimizer);
  const parsed = useStore((s) => s.parse?.sampleCount ?? 0);
  // A shown training says what it held out; before one, the split the next would use.
  const used = useStore((s) => (s.phase !== 'idle' ? s.info : null));
  const id = useId();
  const value = percent(o.heldOut);
  const [draft, setDraft] = useState(String(value));
  const say = useMessage();
  const [why, setError] = useState<Message | null>(null);
  const error = why === null ? null : say(why);
  useEffect(() => {
    setDraft(String(value));
    setError(null);
  }, [value]);
  const refusal = (text: string): Message | null => {
    const v = Number(text);
    if (text.trim() === '' || !Number.isFinite(v)) return optimizerProblems({ ...o, heldOut: NaN })[0] ?? null;
    const before = new Set(optimizerProblems(o).map(englishOf));
    return optimizerProblems({ ...o, heldOut: v / 100 }).find((p) => !before.has(englishOf(p))) ?? null;
  };
  const commit = () => {
    const why = refusal(draft);
    setError(why);
    if (why === null && Number(draft) !== value) setOptimizer({ heldOut: Number(draft) / 100 });
  };
  const total = used?.heldOut ? used.samples : parsed;
  const held = used?.heldOut ?? heldOutSamples(parsed, o.heldOut, o.seed);
  const list = held.slice(0, MAX_LISTED).map((i) => i + 1).join(', ') + (held.length > MAX_LISTED ? ', …' : '');
  const note = held.length > 0 ? t('split.samples', { count: held.length, total, list }) : o.heldOut > 0 && total < 2 ? t('split.needTwo', { count: total }) : t('split.off');
  return (
    <div className="opt-field held-out-field" data-testid="held-out-field" data-held={held.join(',')}>
      <label htmlFor={id}>{t('split.label')}</label>
      <input
        id={id}
        type="number"
        step={5}
        min={0}
        max={50}
        value={draft}
        data-testid="opt-heldOut"
        aria-invalid={error !== null || undefined}
        aria-describedby={`${id}-note${error !== null ? ` ${id}-error` : ''}`}
        onChange={(e) => {
          setDraft(e.target.value);
          if (error !== null) setError(refusal(e.target.value));
        }}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
          else if (e.key === 'Escape') {
            setDraft(String(value));
            setError(null);
          }
        }}
      />
      <span id={`${id}-note`} className="hint small" data-testid="held-out-note">
        {note}
      </span>
      {error !== null && (
        <span id={`${id}-error`} className="message error small opt-error" role="alert" data-testid="opt-heldOut-error">
          {t('split.error', { why: error, value })}
        </span>
      )}
    </div>
  );
});
