// Template spans (this playground's own method, the first row of the lab): render the tokenizer's
// chat template, attribute every character to a message by re-rendering with each message's content
// swapped (spans.ts, fields.ts), lift the roles to tokens by byte offsets (offsets.ts), then apply
// the mask policy of the settings panel (labels.ts), hand overrides included.
import { tokenizeConversation } from '../attribution';
import { computeLabels, isTrainedByPolicy } from '../labels';
import { reason, said } from './reasons';
import { truncateRight } from './common';
import type { Strategy } from './types';
import { msg } from '../../spec/message';

export const templateSpans: Strategy = {
  id: 'template-spans',
  label: 'Template spans (this playground)',
  source: 'this playground: the settings panel’s mask policy over roles found by re-rendering the template',
  options: [],
  defaults: () => ({}),
  run({ tok, conversation, tools, policy, maxLength, splitSpecialTokens, tokenized }) {
    const sample = tokenized ?? tokenizeConversation(tok, conversation, { tools, splitSpecialTokens });
    const result = computeLabels(sample, policy);
    const last = sample.tokens.reduce<number | null>((m, t) => (t.turnIndex !== null && (m === null || t.turnIndex > m) ? t.turnIndex : m), null);
    const reasons = sample.tokens.map((t, i) => {
      const o = policy.overrides[i];
      if (o) return reason.override(o);
      const trained = isTrainedByPolicy(t, policy, last);
      if (t.isEndOfTurn) return reason.endOfTurn(trained, trained ? '' : !policy.trainEndOfTurn ? msg('lab.why.endOfTurnOff') : msg('lab.why.turnNotSelected'));
      if (policy.promptLossWeight > 0 && !trained) return reason.prompt(true, msg('lab.why.weight', { w: policy.promptLossWeight }));
      if (t.role === 'template') return trained ? reason.role('template', true) : reason.markup();
      if (t.turnIndex !== null && !trained && policy.assistantTurns === 'last' && t.turnIndex !== last) return reason.turnNotSelected(msg('lab.why.lastAssistantOnly'));
      return reason.role(t.role, trained);
    });
    const out = {
      text: sample.rendered,
      ids: sample.tokens.map((t) => t.id),
      labels: Array.from(result.labels),
      reasons,
      // Said again (the same English), so the row carries the sample's notes as messages too.
      notes: sample.noteMsgs ? sample.noteMsgs.map(said) : sample.notes,
      error: null,
    };
    return truncateRight(out, maxLength);
  },
};
