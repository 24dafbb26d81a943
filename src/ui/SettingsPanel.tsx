// Tokenizer, context length and the mask policy. Every control applies at once (no "apply").
import { useStore } from '../store';
import { MAX_CONTEXT } from '../store/validate';
import { contextLimit } from '../worker/dataProtocol';
import { useEffect, useId, useState } from 'react';
import { TOKENIZERS } from '../data/sources';
import { POLICY_ROLES, type TokenizerId } from '../data/types';
import { Explainer } from './Explainer';

/** The mask switches for message fields beyond content: policy key, input name, label, hint. */
const FIELD_SWITCHES = [
  ['trainReasoning', 'train-reasoning', 'Train reasoning', 'thinking / reasoning_content of the trained turns'],
  ['trainToolCalls', 'train-tool-calls', 'Train tool calls', 'what the trained turns ask a tool'],
  ['trainToolResults', 'train-tool-results', 'Train tool results', 'what a tool answers; usually input, not output'],
] as const;

const ROLE_TITLE = { system: 'System', user: 'User', assistant: 'Assistant', template: 'Template markup' } as const;

function ContextLengthInput() {
  const own = useStore((s) => s.settings.contextLengths[s.settings.tokenizerId]);
  const effective = useStore((s) => s.labels?.contextLength ?? null);
  const limit = useStore((s) => contextLimit(s.settings.tokenizerId, s.modelTokenizer));
  const setContextLength = useStore((s) => s.setContextLength);
  const id = useId();
  // Local draft so typing "1" on the way to "1024" does not cut the sample at 1 token.
  const [draft, setDraft] = useState<string>('');
  const shown = own ?? effective;
  useEffect(() => setDraft(shown === null ? '' : String(shown)), [shown]);

  const commit = () => {
    const v = Number(draft);
    if (draft.trim() === '' || !Number.isFinite(v) || v < 1) setDraft(shown === null ? '' : String(shown));
    else {
      // Past the model's positions the store keeps the limit: show that, not what was typed.
      const kept = limit !== null ? Math.min(Math.round(v), limit) : Math.round(v);
      setDraft(String(kept));
      if (kept !== shown) setContextLength(kept);
    }
  };
  return (
    <div className="field">
      <label htmlFor={id}>Context length</label>
      <div className="inline">
        <input
          id={id}
          type="number"
          inputMode="numeric"
          min={1}
          max={limit ?? MAX_CONTEXT}
          step={1}
          value={draft}
          data-testid="context-length"
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === 'Enter') commit();
          }}
        />
        <span className="unit">tokens</span>
        {own !== null && (
          <button type="button" className="link" onClick={() => setContextLength(null)}>
            use the model's
          </button>
        )}
      </div>
      <p className="hint">
        {own === null ? "The model's limit" : 'Your setting'}; longer samples are cut here (right truncation).
        {limit !== null && (
          <span data-testid="context-limit">
            {' '}
            It stops at {limit}: the model has {limit} positions, so training cannot see further.
          </span>
        )}
      </p>
    </div>
  );
}

export function SettingsPanel() {
  const tokenizerId = useStore((s) => s.settings.tokenizerId);
  const modelTokenizer = useStore((s) => s.modelTokenizer);
  const policy = useStore((s) => s.settings.policy);
  const setTokenizer = useStore((s) => s.setTokenizer);
  const setPolicy = useStore((s) => s.setPolicy);
  const setRoleTrained = useStore((s) => s.setRoleTrained);
  const overrideCount = useStore((s) => Object.keys(s.overrides).length);
  const clearOverrides = useStore((s) => s.clearOverrides);
  const splitSpecialTokens = useStore((s) => s.settings.splitSpecialTokens);
  const setSplitSpecialTokens = useStore((s) => s.setSplitSpecialTokens);
  const tokId = useId();
  const weightId = useId();
  const full = policy.mode === 'full';

  return (
    <section className="panel settings-panel" aria-labelledby={`${tokId}-h`}>
      <h2 id={`${tokId}-h`}>Settings</h2>

      <div className="field">
        <label htmlFor={tokId}>Tokenizer &amp; chat template</label>
        <select
          id={tokId}
          data-testid="tokenizer"
          value={tokenizerId}
          onChange={(e) => setTokenizer(e.target.value as TokenizerId)}
        >
          {TOKENIZERS.map((t) => (
            <option key={t.id} value={t.id}>
              {t.id === 'default' && modelTokenizer ? `${modelTokenizer.label} (loaded model)` : t.label}
            </option>
          ))}
        </select>
      </div>
      <ContextLengthInput />
      <div className="field">
        <label className="choice">
          <input
            type="checkbox"
            data-testid="split-special-tokens"
            checked={splitSpecialTokens}
            onChange={(e) => setSplitSpecialTokens(e.target.checked)}
          />
          Encode special-token text as plain characters <span className="muted">(split_special_tokens)</span>
        </label>
        <p className="hint">
          Off: <code>{'<|im_end|>'}</code> typed in a message becomes that special token, as transformers does (marked ⚠ on
          its chip). On: it is tokenized as ordinary text, for the view and for training.
        </p>
      </div>

      <fieldset className="field">
        <legend>Loss on</legend>
        <label className="choice">
          <input
            type="radio"
            name="mode"
            value="response-only"
            checked={policy.mode === 'response-only'}
            onChange={() => setPolicy({ mode: 'response-only' })}
          />
          Responses only <span className="muted">(assistant turns)</span>
        </label>
        <label className="choice">
          <input type="radio" name="mode" value="full" checked={full} onChange={() => setPolicy({ mode: 'full' })} />
          Full sequence <span className="muted">(roles below)</span>
        </label>
      </fieldset>

      <fieldset className="field">
        <legend>Assistant turns trained</legend>
        <label className="choice">
          <input
            type="radio"
            name="turns"
            value="all"
            checked={policy.assistantTurns === 'all'}
            onChange={() => setPolicy({ assistantTurns: 'all' })}
          />
          All
        </label>
        <label className="choice">
          <input
            type="radio"
            name="turns"
            value="last"
            checked={policy.assistantTurns === 'last'}
            onChange={() => setPolicy({ assistantTurns: 'last' })}
          />
          Last only
        </label>
        <label className="choice">
          <input
            type="checkbox"
            checked={policy.trainEndOfTurn}
            onChange={(e) => setPolicy({ trainEndOfTurn: e.target.checked })}
          />
          Train the end-of-turn token <span className="muted">(so the model learns to stop)</span>
        </label>
      </fieldset>

      <fieldset className="field">
        <legend>Reasoning and tools</legend>
        {FIELD_SWITCHES.map(([key, name, title, hint]) => (
          <label className="choice" key={key}>
            <input type="checkbox" name={name} checked={policy[key]} onChange={(e) => setPolicy({ [key]: e.target.checked })} />
            {title} <span className="muted">({hint})</span>
          </label>
        ))}
      </fieldset>

      <fieldset className="field" disabled={!full} aria-describedby={`${tokId}-roles-hint`}>
        <legend>Roles trained in full mode</legend>
        <div className="role-checks">
          {POLICY_ROLES.map((role) => (
            <label key={role} className={`choice role-choice role-${role}`}>
              <input
                type="checkbox"
                name={`role-${role}`}
                checked={policy.roles[role]}
                onChange={(e) => setRoleTrained(role, e.target.checked)}
              />
              {ROLE_TITLE[role]}
            </label>
          ))}
        </div>
        <p className="hint" id={`${tokId}-roles-hint`}>
          {full ? 'Unchecked roles are prompt.' : 'Response-only trains assistant tokens only.'}
        </p>
      </fieldset>

      <div className="field">
        <label htmlFor={weightId}>
          Prompt-loss weight <output htmlFor={weightId}>{policy.promptLossWeight.toFixed(2)}</output>
        </label>
        <input
          id={weightId}
          type="range"
          min={0}
          max={1}
          step={0.05}
          value={policy.promptLossWeight}
          data-testid="prompt-weight"
          onChange={(e) => setPolicy({ promptLossWeight: Number(e.target.value) })}
        />
        <p className="hint">0 masks the prompt (-100). Above 0, prompt tokens keep their ids at this weight.</p>
      </div>

      <div className="field overrides">
        <span>
          {overrideCount === 0
            ? 'Click a token to train or mask it by hand.'
            : `${overrideCount} hand override${overrideCount === 1 ? '' : 's'}.`}
        </span>
        <button type="button" onClick={clearOverrides} disabled={overrideCount === 0} data-testid="clear-overrides">
          Clear overrides
        </button>
      </div>

      <Explainer />
    </section>
  );
}
