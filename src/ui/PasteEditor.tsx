// The paste box's editor: CodeMirror 6 instead of a <textarea>, because a textarea lays out all
// of its text on every change (a 1 MB paste cost ~90 ms of layout in a bare textarea on this
// machine, before the app did anything; bench/mainthread.md), while CodeMirror renders only the
// lines in view and, for an overlong line, only the part in view (its line gaps).
//
// It is controlled like a textarea: `value` in, `onChange(text)` out. A value that differs from the
// editor's text (an example loaded, a lesson's setup, a restored session) replaces the text as one
// undoable change, so Ctrl+Z brings back what was there. An edit the store does not take (it asks
// first when finished runs would be discarded, and Cancel keeps the text) is taken back out of the
// editor, as a controlled textarea would. Tab is not bound: it moves focus, as in a
// textarea (CodeMirror's default keymap leaves it alone).
import { Annotation, Compartment, EditorState } from '@codemirror/state';
import { EditorView, keymap, placeholder as placeholderExt } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, isolateHistory } from '@codemirror/commands';
import { forwardRef, useEffect, useImperativeHandle, useRef } from 'react';

export interface PasteEditorHandle {
  /** Select [from, to) (UTF-16 offsets), scroll it into view and focus the editor. */
  select(from: number, to: number): void;
}

interface Props {
  value: string;
  onChange(text: string): void;
  /** The text the store holds right now (after onChange: whether it took the edit). */
  current(): string;
  /** id of the element that labels the editor (a visually hidden <label>-like element). */
  labelledBy: string;
  describedBy: string;
  invalid: boolean;
  placeholder: string;
  testId: string;
}

/** Marks the changes that came from `value`, so they are not echoed back through onChange. */
const fromValue = Annotation.define<boolean>();

/**
 * What the e2e tests read and set instead of a textarea's value and selection (Playwright's
 * toHaveValue/inputValue only read form fields). Set on the content element, the one with the test id.
 */
export interface PasteEditorProbe {
  text(): string;
  selection(): [number, number];
  select(from: number, to: number): void;
}

export const PasteEditor = forwardRef<PasteEditorHandle, Props>(function PasteEditor(props, ref) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;
  const current = useRef(props.current);
  current.current = props.current;
  /** The text last given to or taken from the store: a `value` equal to it needs no dispatch. */
  const known = useRef(props.value);
  const attrs = useRef(new Compartment());

  const contentAttributes = (p: Props) =>
    EditorView.contentAttributes.of({
      'aria-labelledby': p.labelledBy,
      'aria-describedby': p.describedBy,
      'aria-invalid': p.invalid ? 'true' : 'false',
      'data-testid': p.testId,
      spellcheck: 'false',
    });

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: known.current,
        extensions: [
          history(),
          // historyKeymap: undo Ctrl+Z; redo Ctrl+Y, and Ctrl+Shift+Z as in a textarea.
          keymap.of([...defaultKeymap, ...historyKeymap]),
          EditorView.lineWrapping,
          placeholderExt(props.placeholder),
          attrs.current.of(contentAttributes(props)),
          EditorView.updateListener.of((u) => {
            if (!u.docChanged || u.transactions.some((tr) => tr.annotation(fromValue))) return;
            const text = u.state.doc.toString();
            known.current = text;
            onChange.current(text);
            const held = current.current();
            if (held === text) return;
            // Not taken (yet): show the store's text again; a confirmed edit comes back as `value`.
            known.current = held;
            queueMicrotask(() => {
              const v = view.current;
              if (!v || known.current !== held || v.state.doc.toString() === held) return;
              v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: held }, annotations: fromValue.of(true) });
            });
          }),
        ],
      }),
    });
    view.current = v;
    const probe: PasteEditorProbe = {
      text: () => v.state.doc.toString(),
      selection: () => [v.state.selection.main.from, v.state.selection.main.to],
      select: (from, to) => v.dispatch({ selection: { anchor: from, head: to }, scrollIntoView: true }),
    };
    (v.contentDOM as unknown as { pasteEditor: PasteEditorProbe }).pasteEditor = probe;
    return () => {
      v.destroy();
      view.current = null;
    };
    // The editor is made once; later prop changes reach it through the effects below.
  }, []);

  useEffect(() => {
    const v = view.current;
    if (!v || props.value === known.current) return;
    known.current = props.value;
    // Its own undo step, never merged with the typing just before it.
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value }, annotations: [fromValue.of(true), isolateHistory.of('full')] });
  }, [props.value]);

  useEffect(() => {
    view.current?.dispatch({ effects: attrs.current.reconfigure(contentAttributes(props)) });
  }, [props.invalid, props.describedBy, props.labelledBy, props.testId]);

  useImperativeHandle(ref, () => ({
    select(from, to) {
      const v = view.current;
      if (!v) return;
      const end = v.state.doc.length;
      v.dispatch({ selection: { anchor: Math.min(from, end), head: Math.min(to, end) }, scrollIntoView: true });
      v.focus();
    },
  }));

  return <div ref={host} className={`paste-box${props.invalid ? ' invalid' : ''}`} />;
});
