// For learners: -100, the shift, why the objectives differ, how to read the curves. Collapsed.
import { memo } from 'react';
import { Trans, useTranslation } from 'react-i18next';

export const TrainExplainer = memo(function TrainExplainer() {
  const { t } = useTranslation('train');
  return (
    <details className="explainer train-explainer" data-testid="train-explainer">
      <summary>{t('explainer.summary')}</summary>
      <dl>
        <dt>
          <code>-100</code>
        </dt>
        <dd>
          <Trans t={t} i18nKey="explainer.ignore" components={{ code: <code /> }} />
        </dd>
        <dt>{t('explainer.shiftTitle')}</dt>
        <dd>
          <Trans t={t} i18nKey="explainer.shift" components={{ var: <var /> }} />
        </dd>
        <dt>{t('explainer.objectivesTitle')}</dt>
        <dd>
          <Trans t={t} i18nKey="explainer.objectives" components={{ em: <em /> }} />
        </dd>
        <dt>{t('explainer.curvesTitle')}</dt>
        <dd>
          <Trans t={t} i18nKey="explainer.curves" components={{ em: <em /> }} />
        </dd>
      </dl>
    </details>
  );
});
