// "What is -100?" in a few lines, collapsed by default.
import { Trans, useTranslation } from 'react-i18next';

export function Explainer() {
  const { t } = useTranslation('settings');
  return (
    <details className="explainer">
      <summary>{t('explainer.summary')}</summary>
      <p>
        <Trans t={t} i18nKey="explainer.p1" components={{ code: <code /> }} />
      </p>
      <p>
        <Trans t={t} i18nKey="explainer.p2" components={{ code: <code />, var: <var /> }} />
      </p>
    </details>
  );
}
