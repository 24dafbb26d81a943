// Page layout: header, the paste box and the settings side by side, the token view below, then
// training and comparison.
import { useEffect } from 'react';
import { usePlayground } from '../store/store';
import { initTraining } from '../store/train';
import { InputPanel } from './InputPanel';
import { SettingsPanel } from './SettingsPanel';
import { TokenView } from './TokenView';
import { TrainPanel } from './train/TrainPanel';

export function App() {
  const busy = usePlayground((s) => s.busy);
  const status = usePlayground((s) => s.status);
  const hydrated = usePlayground((s) => s.hydrated);
  useEffect(() => void initTraining(), []);
  return (
    <div className="app" data-busy={busy} data-hydrated={hydrated}>
      <header className="app-header">
        <div>
          <h1>SFT loss-masking playground</h1>
          <p className="tagline">
            Paste a chat and see every token with the label the loss trains on: its id, or <code>-100</code> where
            the loss ignores it.
          </p>
        </div>
        <div className="busy" role="status" aria-live="polite" data-testid="busy">
          {busy ? (
            <>
              <span className="spinner" aria-hidden="true" />
              {status ?? 'Working…'}
            </>
          ) : (
            <span className="idle">Up to date</span>
          )}
        </div>
      </header>
      <main className="layout">
        <InputPanel />
        <SettingsPanel />
        <TokenView />
        <TrainPanel />
      </main>
    </div>
  );
}
