// Which chat template a folder has, with transformers' precedence (chat_template.jinja, then
// chat_template.json, then tokenizer_config.json), and named templates: the pure choice, then
// loadModel on the tiny fixture served with those files, then the chosen template rendering
// through the data module's tokenizer as the data worker gives it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseChatTemplate } from './chatTemplate';
import { loadModel } from './loader';
import { servingFetch, TINY_DIR, TINY_URL } from './testkit';
import { loadTokenizer } from '../data/tokenizer';

const JINJA = '{% for m in messages %}[jinja {{ m.role }}]{{ m.content }}{% endfor %}';
const JSON_TEMPLATE = '{% for m in messages %}[json {{ m.role }}]{{ m.content }}{% endfor %}';
const CONFIG_TEMPLATE = '{% for m in messages %}[config {{ m.role }}]{{ m.content }}{% endfor %}';
const TOOL_USE = '{% for m in messages %}[tool_use {{ m.role }}]{{ m.content }}{% endfor %}';

describe('chooseChatTemplate: transformers precedence', () => {
  const config = { chat_template: CONFIG_TEMPLATE };

  it('chat_template.jinja only (the config has no chat_template): the jinja file', () => {
    expect(chooseChatTemplate({ jinja: JINJA, json: null, config: {} }, 'm')).toEqual({ template: JINJA, file: 'chat_template.jinja', name: null, names: [] });
  });

  it('jinja and chat_template.json and the config: the jinja file wins; without it, chat_template.json; then the config', () => {
    expect(chooseChatTemplate({ jinja: JINJA, json: { chat_template: JSON_TEMPLATE }, config }, 'm')?.file).toBe('chat_template.jinja');
    expect(chooseChatTemplate({ jinja: null, json: { chat_template: JSON_TEMPLATE }, config }, 'm')).toMatchObject({ template: JSON_TEMPLATE, file: 'chat_template.json' });
    expect(chooseChatTemplate({ jinja: null, json: null, config }, 'm')).toMatchObject({ template: CONFIG_TEMPLATE, file: 'tokenizer_config.json' });
    expect(chooseChatTemplate({ jinja: null, json: null, config: {} }, 'm')).toBeNull();
  });

  it('named templates (list or object form): "default" unless another name is asked for', () => {
    const list = [{ name: 'default', template: CONFIG_TEMPLATE }, { name: 'tool_use', template: TOOL_USE }];
    expect(chooseChatTemplate({ jinja: null, json: null, config: { chat_template: list } }, 'm')).toEqual({
      template: CONFIG_TEMPLATE, file: 'tokenizer_config.json', name: 'default', names: ['default', 'tool_use'],
    });
    expect(chooseChatTemplate({ jinja: null, json: null, config: { chat_template: list } }, 'm', 'tool_use')?.template).toBe(TOOL_USE);
    const object = { default: JSON_TEMPLATE, tool_use: TOOL_USE };
    expect(chooseChatTemplate({ jinja: null, json: { chat_template: object }, config }, 'm', 'tool_use')).toMatchObject({ template: TOOL_USE, file: 'chat_template.json', name: 'tool_use' });
  });

  it('a name the file does not have is refused with the names it has', () => {
    const list = [{ name: 'tool_use', template: TOOL_USE }, { name: 'rag', template: JINJA }];
    expect(() => chooseChatTemplate({ jinja: null, json: null, config: { chat_template: list } }, 'org/model')).toThrow(
      'org/model/tokenizer_config.json has 2 named chat templates (tool_use, rag) and none is called "default".',
    );
  });
});

describe('loadModel reads the template files beside tokenizer_config.json', () => {
  const baseConfig = JSON.parse(readFileSync(join(TINY_DIR, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const { chat_template: _ownTemplate, ...configWithout } = baseConfig;
  function served(files: Record<string, string>) {
    return servingFetch(TINY_URL, (rel) => {
      if (rel in files) return new TextEncoder().encode(files[rel]);
      const p = join(TINY_DIR, rel);
      return existsSync(p) ? new Uint8Array(readFileSync(p)) : null;
    });
  }

  it('a folder with chat_template.jinja only: that template, and export keeps the file', async () => {
    const s = served({ 'tokenizer_config.json': JSON.stringify(configWithout), 'chat_template.jinja': JINJA });
    const m = await loadModel(TINY_URL, { fetch: s.fetch, cache: null });
    expect(m.chatTemplate).toEqual({ template: JINJA, file: 'chat_template.jinja', name: null, names: [] });
    expect(new TextDecoder().decode(m.sideFiles['chat_template.jinja'])).toBe(JINJA);
  });

  it('a folder with both files and a config template: chat_template.jinja wins', async () => {
    const s = served({ 'chat_template.jinja': JINJA, 'chat_template.json': JSON.stringify({ chat_template: JSON_TEMPLATE }) });
    const m = await loadModel(TINY_URL, { fetch: s.fetch, cache: null });
    expect(m.chatTemplate?.file).toBe('chat_template.jinja');
    expect(Object.keys(m.sideFiles)).toEqual(expect.arrayContaining(['chat_template.jinja', 'chat_template.json']));
  });

  it('named templates in chat_template.json: "default"; none called so is a note, not a failed load', async () => {
    const named = served({ 'chat_template.json': JSON.stringify({ chat_template: [{ name: 'tool_use', template: TOOL_USE }, { name: 'default', template: JSON_TEMPLATE }] }) });
    expect((await loadModel(TINY_URL, { fetch: named.fetch, cache: null })).chatTemplate).toMatchObject({ template: JSON_TEMPLATE, name: 'default', names: ['tool_use', 'default'] });
    const noDefault = served({ 'chat_template.json': JSON.stringify({ chat_template: { tool_use: TOOL_USE } }) });
    const m = await loadModel(TINY_URL, { fetch: noDefault.fetch, cache: null });
    expect(m.chatTemplate).toBeNull();
    expect(m.notes.join('\n')).toMatch(/chat_template\.json has 1 named chat templates \(tool_use\) and none is called "default"/);
  });

  it('the chosen template is the one the tokenizer renders with (as the data worker passes it)', async () => {
    const chosen = chooseChatTemplate({ jinja: JINJA, json: null, config: configWithout }, 'tiny');
    const read = async (path: string): Promise<unknown> => {
      const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      return path.endsWith('tokenizer_config.json') ? { ...configWithout, chat_template: chosen?.template } : json;
    };
    const tok = await loadTokenizer({ id: 'default', label: 'tiny', tokenizerUrl: join(TINY_DIR, 'tokenizer.json'), configUrl: join(TINY_DIR, 'tokenizer_config.json') }, read);
    expect(tok.render([{ role: 'user', content: 'Hi' }])).toBe('[jinja user]Hi');
  });
});
