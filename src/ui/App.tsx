// Page layout: header, the paste box and the settings side by side, the token view below, the
// masking lab, the dataset preflight, then training and comparison.
import { useStore } from '../store';
import { Trans, useTranslation } from 'react-i18next';
import { LanguageSwitch } from './i18n/LanguageSwitch';
import { useMessage } from './i18n/useMessage';
import { LessonMenu } from './lessons/LessonMenu';
import { LessonPlayer } from './lessons/LessonPlayer';
import { InputPanel } from './InputPanel';
import { SettingsPanel } from './SettingsPanel';
import { TokenView } from './TokenView';
import { TrainPanel } from './train/TrainPanel';
import { MaskingLab } from './lab/MaskingLab';
import { PreflightPanel } from './preflight/PreflightPanel';
import { TemplateEditor } from './template/TemplateEditor';

export function App() {
  const busy = useStore((s) => s.busy);
  const status = useStore((s) => s.status);
  const hydrated = useStore((s) => s.hydrated);
  const notice = useStore((s) => s.notice);
  const dismissNotice = useStore((s) => s.dismissNotice);
  const { t } = useTranslation();
  const say = useMessage();
  return (
    <div className="app" data-busy={busy} data-hydrated={hydrated}>
      <header className="app-header">
        <div>
          <h1>{t('app.title')}</h1>
          <p className="tagline">
            <Trans i18nKey="app.tagline" components={{ code: <code /> }} />
          </p>
        </div>
        <div className="busy" role="status" aria-live="polite" data-testid="busy">
          {busy ? (
            <>
              <span className="spinner" aria-hidden="true" />
              {status ? say(status) : t('app.working')}
            </>
          ) : (
            <span className="idle">{t('app.upToDate')}</span>
          )}
        </div>
        <LessonMenu />
        <LanguageSwitch />
      </header>
      {notice && (
        <div className="notice" role="status" data-testid="restore-notice">
          {say(notice)}{' '}
          <button type="button" onClick={dismissNotice}>
            {t('app.dismiss')}
          </button>
        </div>
      )}
      <main className="layout">
        <InputPanel />
        <SettingsPanel />
        <TemplateEditor />
        <TokenView />
        <MaskingLab />
        <PreflightPanel />
        <TrainPanel />
      </main>
      <LessonPlayer />
    </div>
  );
}
