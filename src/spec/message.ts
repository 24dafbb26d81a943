/**
 * Messages for people are data: { code, params }, made by the layer that knows what happened and
 * turned into words where they are shown, in the reader's language. The words live in one i18next
 * namespace, `messages` (src/spec/locales/<lang>/messages.json), which the page's i18n loads too
 * (src/ui/i18n/index.ts). Lower layers render English with english(): logs, tests and the `message`
 * of a CodedError read as before; the UI renders `msg` again with the current language.
 *
 * A param may itself be a Message (a line error inside "Line 3, column 5: …"): it is rendered
 * first, in the same language. `count` selects the plural form (i18next's _one / _other).
 * An error that carries no code (a library's, an internal invariant's) becomes UNCODED with its
 * English text as `detail`, shown inside a translated frame.
 */
import { createInstance, type TFunction } from 'i18next';
import en from './locales/en/messages.json';
import zh from './locales/zh/messages.json';

export type MessageParam = string | number | Message;
export interface Message {
  code: string;
  params?: Record<string, MessageParam>;
}

/** The namespace of the catalogs, in src/spec/locales/<lang>/messages.json. */
export const MESSAGES_NS = 'messages';
export const MESSAGE_RESOURCES = { en: { [MESSAGES_NS]: en }, zh: { [MESSAGES_NS]: zh } } as const;

/** An error's text with no code of its own: en "{{detail}}", zh frames it. */
export const UNCODED = 'uncoded';

/** A message. The code is a key of messages.json (a test checks every literal code used in src). */
export function msg(code: string, params?: Record<string, MessageParam>): Message {
  return params ? { code, params } : { code };
}

/**
 * Render with any i18next t (the UI's, in its language; english() below). Nested messages first;
 * an uncoded one inside a sentence is its English text as is (the frame is for a whole message).
 */
export function renderMessage(m: Message, t: TFunction, nested = false): string {
  if (nested && m.code === UNCODED && typeof m.params?.detail === 'string') return m.params.detail;
  const params: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(m.params ?? {})) params[k] = typeof v === 'object' ? renderMessage(v, t, true) : v;
  const key = `${MESSAGES_NS}:${m.code}`;
  // A code the catalog lacks (a test keeps that from shipping): its detail, else the code itself.
  const text = t(key, { ...params, defaultValue: '\u0000' });
  if (text === '\u0000') return typeof params.detail === 'string' ? params.detail : m.code;
  return text;
}

const english = createInstance();
void english.init({
  lng: 'en',
  fallbackLng: 'en',
  resources: MESSAGE_RESOURCES,
  ns: [MESSAGES_NS],
  defaultNS: MESSAGES_NS,
  initAsync: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});

/** The English text of a message. */
export function englishOf(m: Message): string {
  return renderMessage(m, english.t);
}

/** The same, in either catalog's language (tests and the CLI; the page uses its own i18n). */
export function textOf(m: Message, lng: 'en' | 'zh' = 'en'): string {
  return renderMessage(m, lng === 'en' ? english.t : english.getFixedT(lng));
}

/** An error for people: its Message, and (for logs and English readers) its English text as `message`. */
export class CodedError extends Error {
  constructor(
    readonly msg: Message,
    options?: { cause?: unknown },
  ) {
    super(englishOf(msg), options);
    this.name = 'CodedError';
  }
}

/** `{ message, msg }`: the shape of the data layers' messages (InputError, findings…), English and coded. */
export function worded(m: Message): { message: string; msg: Message } {
  return { message: englishOf(m), msg: m };
}

/** The Message of anything thrown: a CodedError's own (or any error carrying `msg`), else its text uncoded. */
export function messageOfError(err: unknown): Message {
  if (err && typeof err === 'object' && 'msg' in err && isMessage((err as { msg: unknown }).msg)) return (err as { msg: Message }).msg;
  return uncoded(err instanceof Error ? err.message : String(err));
}

/** Several messages as one, each after the other (a space between them in English). */
export function joined(ms: readonly Message[], sep: 'space' | 'semicolon' | 'comma' | 'or' = 'space'): Message {
  return ms.reduce((a, b) => msg(`join.${sep}`, { a, b }));
}

/** English text with no code: shown as is in English, framed in other languages. */
export const uncoded = (detail: string): Message => msg(UNCODED, { detail });

export function isMessage(v: unknown): v is Message {
  return typeof v === 'object' && v !== null && typeof (v as Message).code === 'string';
}
