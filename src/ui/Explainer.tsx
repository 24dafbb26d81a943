// "What is -100?" in a few lines, collapsed by default.
export function Explainer() {
  return (
    <details className="explainer">
      <summary>What is -100?</summary>
      <p>
        PyTorch's <code>CrossEntropyLoss</code> skips every target equal to its <code>ignore_index</code>, which
        is <code>-100</code> by default. Hugging Face trainers build <code>labels</code> as a copy of{' '}
        <code>input_ids</code> and set the positions that should not be learned (usually the prompt) to{' '}
        <code>-100</code>.
      </p>
      <p>
        The model shifts inside the loss: the logits at position <var>t</var>−1 are scored against{' '}
        <code>labels[t]</code>. So a trained chip means “learn to predict this token from everything before it”,
        and <code>labels[0]</code> never counts. The loss is the mean over the positions that are not{' '}
        <code>-100</code>; if there are none, it is undefined (NaN).
      </p>
    </details>
  );
}
