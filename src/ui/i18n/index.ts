// The page's two languages, English and 简体中文 (i18next + react-i18next). Strings live in
// locales/<lang>/<namespace>.json, one namespace per panel or feature, all loaded here (Vite's
// import.meta.glob), so a new panel adds its files without touching this one. The language is the
// browser's until the user picks one in the header; the pick is remembered (localStorage).
import i18n from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next } from 'react-i18next';
import { MESSAGE_RESOURCES } from '../../spec/message';

export const LANGUAGES = [
  { code: 'en', name: 'English' },
  { code: 'zh', name: '简体中文' },
] as const;
export type Language = (typeof LANGUAGES)[number]['code'];

type Strings = Record<string, unknown>;
const files = import.meta.glob<Strings>('./locales/*/*.json', { eager: true, import: 'default' });

/** { en: { common: {...}, lab: {...} }, zh: {...} } from the files' paths. */
export const RESOURCES: Record<Language, Record<string, Strings>> = { en: {}, zh: {} };
for (const [path, strings] of Object.entries(files)) {
  const m = /\.\/locales\/(\w+)\/([\w-]+)\.json$/.exec(path);
  if (m && (m[1] === 'en' || m[1] === 'zh')) RESOURCES[m[1]][m[2]] = strings;
}
// The messages of the layers below (src/spec/locales/<lang>/messages.json, shown through useMessage).
for (const lang of ['en', 'zh'] as const) Object.assign(RESOURCES[lang], MESSAGE_RESOURCES[lang]);
export const NAMESPACES = Object.keys(RESOURCES.en);

void i18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({
    resources: RESOURCES,
    ns: NAMESPACES,
    defaultNS: 'common',
    fallbackLng: 'en',
    supportedLngs: ['en', 'zh'],
    // zh-CN, zh-Hans, zh-TW… → zh; en-GB → en.
    nonExplicitSupportedLngs: true,
    load: 'languageOnly',
    interpolation: { escapeValue: false }, // React escapes
    detection: { order: ['querystring', 'localStorage', 'navigator'], lookupQuerystring: 'lang', lookupLocalStorage: 'sft-playground-lang', caches: ['localStorage'] },
    returnNull: false,
  });

const setHtmlLang = (lng: string) => {
  if (typeof document !== 'undefined') document.documentElement.lang = lng.startsWith('zh') ? 'zh-CN' : 'en';
};
setHtmlLang(i18n.language ?? 'en');
i18n.on('languageChanged', setHtmlLang);

export const currentLanguage = (): Language => (i18n.resolvedLanguage === 'zh' ? 'zh' : 'en');

export default i18n;
