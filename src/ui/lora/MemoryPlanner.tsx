// The memory planner next to the model picker: for the loaded model at the optimizer's batch and
// the samples' context, the GPU memory of one run per training mode (full fine-tuning, LoRA on an
// f32 base, LoRA on a bf16 base), from the engine's own size table (checkMemory → memoryEstimate),
// and whether each fits this adapter's limits (and why not).
import { memo, useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { useStore } from '../../store';
import { memoryPlan, type PlanMode } from '../../store/memoryPlan';
import { DEFAULT_LORA, runLora, type LoraConfig } from '../../spec/lora';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The context the planner sizes: the samples' cut, else the model's positions (at most 1024). */
export function plannerContext(contextLength: number | null, maxPositions: number): number {
  return Math.max(1, Math.min(contextLength ?? 1024, maxPositions));
}

export const MemoryPlanner = memo(function MemoryPlanner() {
  const { t } = useTranslation('lora');
  const loaded = useStore((s) => s.model.loaded);
  const B = useStore((s) => s.optimizer.batchSize);
  const contextLength = useStore((s) => s.settings.contextLengths[s.settings.tokenizerId]);
  const limits = useStore((s) => s.gpu.adapter?.limits ?? null);
  // The adapter of the first LoRA run, else the default one: the row shows what that run would use.
  // (Selected as a string: a new object per call would re-render the panel forever.)
  const loraKey = useStore((s) => JSON.stringify(s.runs.map((r) => runLora(r.training)).find((l) => l !== null) ?? DEFAULT_LORA));
  const lora = useMemo(() => JSON.parse(loraKey) as LoraConfig, [loraKey]);
  const T = loaded ? plannerContext(contextLength, loaded.config.max_position_embeddings) : 0;
  const rows = useMemo(() => (loaded ? memoryPlan(loaded.config, B, T, lora, limits) : []), [loaded, B, T, limits, lora]);
  const label = (m: PlanMode) => (m === 'full' ? t('planner.full') : t(m === 'lora-f32' ? 'planner.loraF32' : 'planner.loraBf16', { r: lora.r }));
  if (!loaded) return null;
  return (
    <section className="memory-planner" aria-labelledby="memory-planner-title" data-testid="memory-planner">
      <h3 id="memory-planner-title">{t('planner.title')}</h3>
      <p className="hint small">{t('planner.intro', { model: loaded.name, B, T })}</p>
      <table>
        <thead>
          <tr>
            <th scope="col">{t('planner.mode')}</th>
            <th scope="col">{t('planner.trainable')}</th>
            <th scope="col">{t('planner.total')}</th>
            <th scope="col">{t('planner.fits')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.mode} data-testid={`planner-${r.mode}`} data-fits={r.fits === null ? 'unknown' : String(r.fits)}>
              <th scope="row">{label(r.mode)}</th>
              <td>{r.trainable.toLocaleString()}</td>
              <td data-testid={`planner-${r.mode}-total`}>{r.total > 0 ? mib(r.total) : '—'}</td>
              <td>{r.fits === null ? t('planner.unknown') : r.fits ? t('planner.yes') : t('planner.no', { why: r.why })}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {limits && <p className="hint small">{t('planner.limit', { buffer: mib(Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize)) })}</p>}
    </section>
  );
});
