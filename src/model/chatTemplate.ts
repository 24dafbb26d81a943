// Which chat template a model folder has, with transformers' precedence: chat_template.jinja (what
// transformers has saved since 2024), else chat_template.json's "chat_template" (the older
// separate file), else tokenizer_config.json's "chat_template". Any of them may hold named
// templates (a list of {name, template}, or an object name → template: "default", "tool_use",
// "rag"…); `name` picks one, "default" unless told, as apply_chat_template does.
type Json = Record<string, unknown>;

export const CHAT_TEMPLATE_FILES = ['chat_template.jinja', 'chat_template.json'] as const;

export interface TemplateFiles {
  /** chat_template.jinja's text; null when the folder has none. */
  jinja: string | null;
  /** chat_template.json as parsed; null when the folder has none. */
  json: unknown;
  /** tokenizer_config.json as parsed ({} when the folder has none). */
  config: Json;
}

export interface ChosenTemplate {
  template: string;
  /** The file it came from. */
  file: 'chat_template.jinja' | 'chat_template.json' | 'tokenizer_config.json';
  /** The named template picked; null when the file holds a single template. */
  name: string | null;
  /** Every name the file offers ([] for a single template). */
  names: string[];
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** name → template, from the list or object form; null when `value` is not named templates. */
function namedTemplates(value: unknown): Map<string, string> | null {
  const out = new Map<string, string>();
  if (Array.isArray(value)) {
    for (const e of value) if (isObject(e) && typeof e.name === 'string' && typeof e.template === 'string') out.set(e.name, e.template);
    return out.size > 0 ? out : null;
  }
  if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out.set(k, v);
    return out.size > 0 ? out : null;
  }
  return null;
}

/** The template to render with, or null when the folder has none; throws when a named
 *  template is asked for and the file has no such name. */
export function chooseChatTemplate(files: TemplateFiles, where: string, name = 'default'): ChosenTemplate | null {
  const candidates: [ChosenTemplate['file'], unknown][] = [
    ['chat_template.jinja', files.jinja],
    ['chat_template.json', isObject(files.json) ? files.json.chat_template : null],
    ['tokenizer_config.json', files.config.chat_template],
  ];
  for (const [file, value] of candidates) {
    if (typeof value === 'string') {
      return { template: value, file, name: null, names: [] };
    }
    const named = namedTemplates(value);
    if (named === null) continue;
    const template = named.get(name);
    const names = [...named.keys()];
    if (template === undefined) {
      throw new Error(
        `${where}/${file} has ${names.length} named chat templates (${names.join(', ')}) and none is called "${name}". ` +
          'Pick one of those names for the template to render with.',
      );
    }
    return { template, file, name, names };
  }
  return null;
}
