// Optimizer settings shared by every run. Each number is a draft while typed and applies on blur or
// Enter, so typing "0.0005" never trains at "0". A refused value stays in the field, marked invalid,
// with the allowed range beside it (checkOptimizer's wording); the setting keeps its last good value
// until a valid one is entered or Escape puts it back. Defaults follow the loaded model's size until edited.
import { useStore } from '../../store';
import { memo, useEffect, useId, useState } from 'react';
import { checkOptimizer, lrAt, type OptimizerSettings } from '../../spec/optimizer';

type NumericKey = { [K in keyof OptimizerSettings]: OptimizerSettings[K] extends number ? K : never }[keyof OptimizerSettings];

interface Range {
  min: number;
  max?: number;
  integer?: boolean;
}

/**
 * Why `draft` is refused for `k`, null when it is usable: checkOptimizer's own words for the
 * settings with this value ("Steps must be a whole number from 1 to 100000 (got 0)."), else the
 * field's range (it can be narrower, e.g. a learning rate above 1).
 */
function refusal(o: OptimizerSettings, k: NumericKey, draft: string, name: string, { min, max, integer }: Range): string | null {
  const v = Number(draft);
  if (draft.trim() === '' || !Number.isFinite(v)) return `${name} must be a number (got ${draft.trim() === '' ? 'nothing' : draft}).`;
  const before = new Set(checkOptimizer(o));
  const own = checkOptimizer({ ...o, [k]: v }).find((p) => !before.has(p));
  if (own) return own;
  if (v >= min && (max === undefined || v <= max) && (!integer || Number.isInteger(v))) return null;
  const kind = integer ? 'a whole number' : 'a number';
  return max === undefined ? `${name} must be ${kind} ≥ ${min} (got ${v}).` : `${name} must be ${kind} from ${min} to ${max} (got ${v}).`;
}

function NumberField({ k, label, name = label, hint, step, ...range }: { k: NumericKey; label: string; name?: string; hint?: string; step: number } & Range) {
  const settings = useStore((s) => s.optimizer);
  const value = settings[k];
  const setOptimizer = useStore((s) => s.setOptimizer);
  const id = useId();
  const [draft, setDraft] = useState(String(value));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDraft(String(value));
    setError(null);
  }, [value]);
  const commit = () => {
    const why = refusal(settings, k, draft, name, range);
    setError(why);
    if (why === null && Number(draft) !== value) setOptimizer({ [k]: Number(draft) } as Partial<OptimizerSettings>);
  };
  return (
    <div className="opt-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        step={step}
        min={range.min}
        max={range.max}
        value={draft}
        data-testid={`opt-${k}`}
        title={hint}
        aria-invalid={error !== null || undefined}
        aria-describedby={error !== null ? `${id}-error` : undefined}
        onChange={(e) => {
          setDraft(e.target.value);
          // A shown refusal follows the typing, and goes once the value is usable.
          if (error !== null) setError(refusal(settings, k, e.target.value, name, range));
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
      {error !== null && (
        <span id={`${id}-error`} className="message error small opt-error" role="alert" data-testid={`opt-${k}-error`}>
          {error} It stays at {value}.
        </span>
      )}
    </div>
  );
}

export const OptimizerForm = memo(function OptimizerForm() {
  const o = useStore((s) => s.optimizer);
  const optimizerFor = useStore((s) => s.optimizerFor);
  const modelName = useStore((s) => s.model.loaded?.name ?? null);
  const setOptimizer = useStore((s) => s.setOptimizer);
  const scheduleId = useId();
  const peakAt = Math.max(1, o.warmupSteps);
  return (
    <details className="optimizer" open>
      <summary>
        Optimizer (AdamW, same for every run){' '}
        <span className="muted small">
          {optimizerFor !== null && modelName ? `defaults for ${modelName}` : 'your settings'} · lr {lrAt(1, o).toExponential(1)} at step 1,{' '}
          {lrAt(peakAt, o).toExponential(1)} at {peakAt}, {lrAt(o.steps, o).toExponential(1)} at {o.steps}
        </span>
      </summary>
      <div className="opt-grid">
        <NumberField k="lr" label="Learning rate" step={0.0001} min={1e-9} max={1} hint="Peak learning rate after warm-up" />
        <NumberField k="warmupSteps" label="Warm-up steps" step={1} min={0} integer />
        <div className="opt-field">
          <label htmlFor={scheduleId}>Schedule</label>
          <select id={scheduleId} value={o.schedule} onChange={(e) => setOptimizer({ schedule: e.target.value as OptimizerSettings['schedule'] })}>
            <option value="cosine">cosine decay</option>
            <option value="linear">linear decay</option>
            <option value="constant">constant</option>
          </select>
        </div>
        <NumberField k="steps" label="Steps" step={1} min={1} max={100_000} integer />
        <NumberField k="batchSize" label="Batch size (sequences)" name="Batch size" step={1} min={1} max={256} integer />
        <NumberField k="beta1" label="β1" name="AdamW beta1" step={0.01} min={0} max={0.9999} />
        <NumberField k="beta2" label="β2" name="AdamW beta2" step={0.001} min={0} max={0.99999} />
        <NumberField k="weightDecay" label="Weight decay" step={0.01} min={0} hint="Decoupled (AdamW), on 2-D matrices only" />
        <NumberField k="maxGradNorm" label="Grad clip (L2)" name="Gradient clip" step={0.1} min={0} hint="0 turns clipping off" />
        <NumberField k="seed" label="Seed (data order)" name="Seed" step={1} min={0} integer />
      </div>
    </details>
  );
});
