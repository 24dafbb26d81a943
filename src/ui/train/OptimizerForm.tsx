// Optimizer settings shared by every run. Each number is a draft while typed and applies on blur or
// Enter, so typing "0.0005" never trains at "0". Defaults follow the loaded model's size until edited.
import { useStore } from '../../store';
import { memo, useEffect, useId, useState } from 'react';
import { lrAt, type OptimizerSettings } from '../../spec/optimizer';

type NumericKey = { [K in keyof OptimizerSettings]: OptimizerSettings[K] extends number ? K : never }[keyof OptimizerSettings];

function NumberField({ k, label, hint, step, min, max, integer }: { k: NumericKey; label: string; hint?: string; step: number; min: number; max?: number; integer?: boolean }) {
  const value = useStore((s) => s.optimizer[k]);
  const setOptimizer = useStore((s) => s.setOptimizer);
  const id = useId();
  const [draft, setDraft] = useState(String(value));
  useEffect(() => setDraft(String(value)), [value]);
  const commit = () => {
    const v = Number(draft);
    const ok = draft.trim() !== '' && Number.isFinite(v) && v >= min && (max === undefined || v <= max) && (!integer || Number.isInteger(v));
    if (!ok) setDraft(String(value));
    else if (v !== value) setOptimizer({ [k]: v } as Partial<OptimizerSettings>);
  };
  return (
    <div className="opt-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        step={step}
        min={min}
        max={max}
        value={draft}
        data-testid={`opt-${k}`}
        title={hint}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
        }}
      />
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
        <NumberField k="batchSize" label="Batch size (sequences)" step={1} min={1} max={256} integer />
        <NumberField k="beta1" label="β1" step={0.01} min={0} max={0.9999} />
        <NumberField k="beta2" label="β2" step={0.001} min={0} max={0.99999} />
        <NumberField k="weightDecay" label="Weight decay" step={0.01} min={0} hint="Decoupled (AdamW), on 2-D matrices only" />
        <NumberField k="maxGradNorm" label="Grad clip (L2)" step={0.1} min={0} hint="0 turns clipping off" />
        <NumberField k="seed" label="Seed (data order)" step={1} min={0} integer />
      </div>
    </details>
  );
});
