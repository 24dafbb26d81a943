// The header's language switch: English or 简体中文, remembered for the next visit.
import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { LANGUAGES, currentLanguage } from './index';

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const id = useId();
  return (
    <span className="language-switch">
      <label htmlFor={id}>{t('app.language')}</label>{' '}
      <select id={id} value={currentLanguage()} onChange={(e) => void i18n.changeLanguage(e.target.value)} data-testid="language">
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code === 'zh' ? 'zh-CN' : 'en'}>
            {l.name}
          </option>
        ))}
      </select>
    </span>
  );
}
