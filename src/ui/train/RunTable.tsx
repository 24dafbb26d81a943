// The latest numbers of every run (raw, not smoothed): the same values the CSV holds, and each run's
// "Download weights" once training has finished or stopped. Re-rendered at the store's flush rate
// through curveVersion, never per step.
import { getCurves, useStore, type RunSpec } from '../../store';
import { memo } from 'react';
import { downloadFiles } from './download';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(4));

function DownloadWeights({ run, name, adapter = false }: { run: number; name: string; adapter?: boolean }) {
  const phase = useStore((s) => s.phase);
  const restored = useStore((s) => s.restored);
  const exporting = useStore((s) => s.exporting);
  const exportRun = useStore((s) => s.exportRun);
  // The weights live in the worker's engines: after training (done or stopped), never for a
  // record whose weights are not back on the GPU yet.
  const forgotten = useStore((s) => s.saved?.forgotten.includes(run) ?? false);
  const ready = !restored && !forgotten && (phase === 'done' || phase === 'stopped');
  const { t } = useTranslation('train');
  const title = forgotten
    ? t('table.forgottenTitle')
    : restored
    ? t('table.restoredTitle')
    : ready
      ? t('table.readyTitle', { name })
      : t('table.notReadyTitle');
  return (
    <button
      type="button"
      className="small"
      disabled={!ready || exporting !== null}
      title={title}
      aria-label={adapter ? t('lora:export.adapterLabel', { name }) : t('table.downloadLabel', { name })}
      data-testid={adapter ? `download-adapter-${run}` : `download-weights-${run}`}
      // exportRun records its error in the store (shown under the table).
      onClick={() => exportRun(run, adapter).then(downloadFiles, () => undefined)}
    >
      {exporting === run ? t('table.exporting') : adapter ? t('lora:export.adapter') : t('table.download')}
    </button>
  );
}

/** Forget one run's saved weights (its curves stay; the dialog-free action is undone by training again). */
function ForgetWeights({ run, name }: { run: number; name: string }) {
  const saved = useStore((s) => s.saved);
  const forgetWeights = useStore((s) => s.forgetWeights);
  const { t } = useTranslation('train');
  if (!saved) return null;
  const forgotten = saved.forgotten.includes(run);
  return (
    <button
      type="button"
      className="small link"
      disabled={forgotten}
      aria-label={t('table.forgetLabel', { name })}
      title={forgotten ? t('table.forgottenShort') : t('table.forgetTitle')}
      data-testid={`forget-weights-${run}`}
      onClick={() => forgetWeights(run)}
    >
      {forgotten ? t('table.forgotten') : t('table.forget')}
    </button>
  );
}

export const RunTable = memo(function RunTable({ runs }: { runs: readonly RunSpec[] }) {
  useStore((s) => s.curveVersion);
  const exportError = useStore((s) => s.exportError);
  const { t } = useTranslation('heldout');
  const say = useMessage();
  const curves = getCurves();
  // The column shows once any run has a held-out point (a training with samples held out).
  const held = curves.some((c) => (c.heldStep?.length ?? 0) > 0);
  return (
    <>
      <table className="run-table" data-testid="run-table">
        <caption className="visually-hidden">{t('train:table.caption')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('train:table.run')}</th>
            <th scope="col">{t('train:table.step')}</th>
            <th scope="col" title={t('train:table.objectiveTitle')}>
              {t('train:table.objective')}
            </th>
            <th scope="col" title={t('train:table.responseTitle')}>
              {t('train:table.response')}
            </th>
            <th scope="col" title={t('train:table.promptTitle')}>
              {t('train:table.prompt')}
            </th>
            {held && (
              <th scope="col" title={t('table.title')}>
                {t('table.column')}
              </th>
            )}
            <th scope="col">{t('train:table.trained')}</th>
            <th scope="col">{t('train:table.weights')}</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r, i) => {
            const c = curves[i];
            const n = c ? c.step.length - 1 : -1;
            const at = <T,>(a: T[] | undefined) => (a && n >= 0 ? a[n] : undefined);
            const objective = at(c?.objective), response = at(c?.response), prompt = at(c?.prompt);
            const heldLoss = c?.heldLoss?.at(-1) ?? null;
            return (
              <tr
                key={r.id}
                data-testid={`run-row-${i}`}
                data-step={at(c?.step) ?? 0}
                data-objective={objective ?? ''}
                data-response={response ?? ''}
                data-prompt={prompt ?? ''}
                data-trained={at(c?.trainedTokens) ?? 0}
                data-held={heldLoss ?? ''}
                data-held-step={c?.heldStep?.at(-1) ?? ''}
                data-held-points={c?.heldStep?.length ?? 0}
              >
                <th scope="row">
                  <span className="run-swatch" style={{ background: r.color }} aria-hidden="true" /> {r.name}
                </th>
                <td>{at(c?.step) ?? 0}</td>
                <td data-testid={`run-${i}-objective`}>{fmt(objective)}</td>
                <td data-testid={`run-${i}-response`}>{fmt(response)}</td>
                <td data-testid={`run-${i}-prompt`}>{fmt(prompt)}</td>
                {held && <td data-testid={`run-${i}-held`}>{fmt(heldLoss)}</td>}
                <td>{(at(c?.trainedTokens) ?? 0).toLocaleString()}</td>
                <td>
                  <DownloadWeights run={i} name={r.name} />{r.training?.mode === 'lora' && <> <DownloadWeights run={i} name={r.name} adapter /></>} <ForgetWeights run={i} name={r.name} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="hint">
        <Trans t={t} i18nKey="train:table.hint" components={{ code: <code /> }} />
      </p>
      {exportError && (
        <p className="message error" role="alert" data-testid="export-error">
          {say(exportError)}
        </p>
      )}
    </>
  );
});
