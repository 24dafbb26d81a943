import { hydrate } from './store';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import './ui/styles.css';
import './ui/i18n';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
// Render after the saved input is back (tens of ms), so nothing typed can be overwritten by it
// and the paste box does not flash the default example first.
void hydrate().then(() =>
    createRoot(root).render(
      <StrictMode>
        <App />
      </StrictMode>,
    ),
  );
