// The messages of the layers below the UI (src/spec/message.ts) in the page's language. A component
// that shows one re-renders when the language changes (useTranslation), so a message already on
// screen switches language with the rest of the page. Plain English text (an error no layer gave a
// code) is shown inside the translated frame of `uncoded`.
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { MESSAGES_NS, renderMessage, uncoded, type Message } from '../../spec/message';

export type Shown = Message | string | null | undefined;

/** say(message) → its text in the current language ('' for none). A string is English, uncoded. */
export function useMessage(): (m: Shown) => string {
  const { t } = useTranslation(MESSAGES_NS);
  return useCallback((m: Shown) => (m == null ? '' : renderMessage(typeof m === 'string' ? uncoded(m) : m, t)), [t]);
}
