// The latest numbers of every run (raw, not smoothed): the same values the CSV holds. Re-rendered at
// the store's flush rate through curveVersion, never per step.
import { memo } from 'react';
import { getCurves, useTrain, type RunSpec } from '../../store/train';

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(4));

export const RunTable = memo(function RunTable({ runs }: { runs: readonly RunSpec[] }) {
  useTrain((s) => s.curveVersion);
  const curves = getCurves();
  return (
    <table className="run-table" data-testid="run-table">
      <caption className="visually-hidden">Latest step of every run</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Step</th>
          <th scope="col" title="The loss this run minimises: the mean over its trained (non -100) tokens">
            Objective
          </th>
          <th scope="col" title="Mean loss on response tokens (assistant answers), the same ruler for every run">
            Response-token loss
          </th>
          <th scope="col" title="Mean loss on prompt tokens (system, user, markup), the same ruler for every run">
            Prompt-token loss
          </th>
          <th scope="col">Trained tokens</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r, i) => {
          const c = curves[i];
          const n = c ? c.step.length - 1 : -1;
          const at = <T,>(a: T[] | undefined) => (a && n >= 0 ? a[n] : undefined);
          const objective = at(c?.objective), response = at(c?.response), prompt = at(c?.prompt);
          return (
            <tr
              key={r.id}
              data-testid={`run-row-${i}`}
              data-step={at(c?.step) ?? 0}
              data-objective={objective ?? ''}
              data-response={response ?? ''}
              data-prompt={prompt ?? ''}
              data-trained={at(c?.trainedTokens) ?? 0}
            >
              <th scope="row">
                <span className="run-swatch" style={{ background: r.color }} aria-hidden="true" /> {r.name}
              </th>
              <td>{at(c?.step) ?? 0}</td>
              <td data-testid={`run-${i}-objective`}>{fmt(objective)}</td>
              <td data-testid={`run-${i}-response`}>{fmt(response)}</td>
              <td data-testid={`run-${i}-prompt`}>{fmt(prompt)}</td>
              <td>{(at(c?.trainedTokens) ?? 0).toLocaleString()}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
});
