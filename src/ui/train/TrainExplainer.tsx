// For learners: -100, the shift, why the objectives differ, how to read the curves. Collapsed.
import { memo } from 'react';

export const TrainExplainer = memo(function TrainExplainer() {
  return (
    <details className="explainer train-explainer" data-testid="train-explainer">
      <summary>How to read this comparison</summary>
      <dl>
        <dt>
          <code>-100</code>
        </dt>
        <dd>
          PyTorch's <code>CrossEntropyLoss(ignore_index=-100)</code> skips those labels: they add nothing to the loss
          and send no gradient back through their prediction.
        </dd>
        <dt>The shift by one</dt>
        <dd>
          The logits at position <var>t</var> predict token <var>t</var>+1, so the label of token <var>t</var>+1 decides
          whether position <var>t</var> is trained. The first token is never a target.
        </dd>
        <dt>Why the two objectives differ</dt>
        <dd>
          Each run reports the mean loss over <em>its own</em> trained tokens. Response-only averages over the answers;
          full sequence also averages over the system and user text, which is harder to predict. So the objectives are
          different numbers by construction, even at step 1.
        </dd>
        <dt>What the curves show</dt>
        <dd>
          Solid: each run's objective. Dashed and dotted: the loss on response tokens and on prompt tokens, measured the
          same way for every run, so these two <em>can</em> be compared across runs. Training on the prompt lowers the
          prompt loss; what matters for answering is the response loss.
        </dd>
      </dl>
    </details>
  );
});
