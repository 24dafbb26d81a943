// The paste box: examples menu, detected format, JSONL sample stepper, and every message about
// the input (parse errors, broken JSONL lines, nothing to train, context cut) right under the text
// the user edits.
import { useStore, type Failure } from '../store';
import type { InputError } from '../data/types';
import { useId, useRef } from 'react';
import { EXAMPLES } from '../data/examples';

const STAGE_TITLE: Record<Failure['stage'], string> = {
  parse: 'Cannot read this input',
  sample: 'No sample to show',
  tokenizer: 'Tokenizer unavailable',
  template: 'Cannot apply the chat template',
  labels: 'Cannot compute labels',
};

/** UTF-16 offset of a 1-based line/column in `text` (columns count UTF-16 code units). */
function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  return Math.min(text.length, offset + Math.max(0, column - 1));
}

export function InputPanel() {
  const text = useStore((s) => s.text);
  const setText = useStore((s) => s.setText);
  const loadExample = useStore((s) => s.loadExample);
  const parse = useStore((s) => s.parse);
  const sampleIndex = useStore((s) => s.sampleIndex);
  const stepSample = useStore((s) => s.stepSample);
  const failure = useStore((s) => s.failure);
  const stale = useStore((s) => s.stale);
  const labels = useStore((s) => s.labels);
  const textareaRef = useRef<HTMLTextAreaElement>(null);
  const textId = useId();
  const exampleId = useId();
  const hintId = useId();

  const showLocation = (e: InputError | undefined) => {
    const ta = textareaRef.current;
    if (!ta || !e?.line) return;
    const at = offsetOf(ta.value, e.line, e.column ?? 1);
    ta.focus();
    ta.setSelectionRange(at, Math.min(ta.value.length, at + 1));
  };

  const n = parse?.sampleCount ?? 0;
  // Broken JSONL lines: of the shown input when it parsed, else of the failed input.
  const lineErrors = parse?.lineErrors ?? failure?.lineErrors ?? null;
  // Messages about the current view only make sense when it is not stale.
  const current = !stale && !failure ? labels : null;
  const location =
    failure?.error.line !== undefined
      ? `line ${failure.error.line}${failure.error.column !== undefined ? `, column ${failure.error.column}` : ''}`
      : null;

  return (
    <section className="panel input-panel" aria-labelledby={`${textId}-h`}>
      <div className="panel-head">
        <h2 id={`${textId}-h`}>Chat sample</h2>
        <span
          className={`format-badge${parse ? '' : ' unknown'}`}
          data-testid="format"
          title="Detected input format"
        >
          {parse ? parse.formatLabel : failure?.stage === 'parse' ? 'not recognised' : '…'}
        </span>
      </div>

      <div className="input-toolbar">
        <label htmlFor={exampleId}>Examples</label>
        <select
          id={exampleId}
          value=""
          onChange={(e) => {
            if (e.target.value) loadExample(e.target.value);
          }}
        >
          <option value="">Load a built-in example…</option>
          {EXAMPLES.map((ex) => (
            <option key={ex.id} value={ex.id}>
              {ex.title}
            </option>
          ))}
        </select>

        {n > 1 && (
          <div className="stepper" role="group" aria-label="Samples in the dataset">
            <button type="button" onClick={() => stepSample(-1)} disabled={sampleIndex <= 0} aria-label="Previous sample">
              ‹ Prev
            </button>
            <span data-testid="sample-position" aria-live="polite">
              sample {sampleIndex + 1} of {n}
              {parse?.sampleLine != null && ` · line ${parse.sampleLine}`}
            </span>
            <button type="button" onClick={() => stepSample(1)} disabled={sampleIndex >= n - 1} aria-label="Next sample">
              Next ›
            </button>
          </div>
        )}
      </div>

      <label htmlFor={textId} className="visually-hidden">
        Chat sample text
      </label>
      <textarea
        id={textId}
        ref={textareaRef}
        className="paste-box"
        data-testid="paste-box"
        value={text}
        spellCheck={false}
        aria-describedby={hintId}
        aria-invalid={failure?.stage === 'parse' || undefined}
        onChange={(e) => setText(e.target.value)}
        placeholder={'[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]'}
      />
      <p id={hintId} className="hint">
        OpenAI <code>[{'{role, content}'}]</code>, <code>{'{"messages": [...]}'}</code>, ShareGPT{' '}
        <code>{'{"conversations": [{from, value}]}'}</code>, JSONL (one sample per line) or text with{' '}
        <code>User:</code> / <code>Assistant:</code> prefixes. {text.length.toLocaleString()} characters.
      </p>

      <div className="messages">
        {failure && (
          <div className="message error" role="alert" data-testid="input-error">
            <strong>{STAGE_TITLE[failure.stage]}</strong>: {failure.error.message}
            <div className="message-actions">
              {location && (
                <button type="button" className="link" onClick={() => showLocation(failure.error)}>
                  Show {location} in the text
                </button>
              )}
              {stale && <span className="stale-note">The token view below shows the last input that worked.</span>}
            </div>
          </div>
        )}
        {lineErrors && (
          <div className="message warn line-errors" role="status" data-testid="line-errors">
            <strong>
              {lineErrors.total} of {lineErrors.lines} lines left out
            </strong>
            {parse ? `: they are not samples; the other ${parse.sampleCount} are.` : ': none of the lines is a sample.'}
            <ul>
              {lineErrors.errors.map((e, k) => (
                <li key={k}>
                  {e.line !== undefined ? (
                    <button type="button" className="link" onClick={() => showLocation(e)} title="Show it in the text">
                      {e.message}
                    </button>
                  ) : (
                    e.message
                  )}
                </li>
              ))}
            </ul>
            {lineErrors.total > lineErrors.errors.length && (
              <p>
                …and {lineErrors.total - lineErrors.errors.length} more broken line{lineErrors.total - lineErrors.errors.length === 1 ? '' : 's'}.
              </p>
            )}
          </div>
        )}
        {current?.nothingToTrain && (
          <div className="message warn" role="alert" data-testid="nothing-to-train">
            <strong>{current.message}</strong>. No position contributes to the loss, so PyTorch's mean would be
            NaN. Add an assistant turn, switch to full loss, or train some tokens by hand.
          </div>
        )}
        {current?.context.cutAt !== null && current?.context.cutAt !== undefined && (
          <div
            className={`message ${current.context.removesResponse ? 'warn' : 'info'}`}
            role={current.context.removesResponse ? 'alert' : 'status'}
            data-testid={current.context.removesResponse ? 'context-warning' : 'context-info'}
          >
            {current.context.removesResponse && <strong>The context cut removes trained tokens. </strong>}
            {current.context.message}
          </div>
        )}
      </div>
    </section>
  );
}
