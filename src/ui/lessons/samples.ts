// The lessons' samples: short, so every token fits on screen and a lesson's training takes seconds.
const chat = (...messages: { role: string; content: string }[]) => JSON.stringify(messages, null, 2);

/** A system prompt, a question, a one-sentence answer (the e2e tests' SIMPLE chat). */
export const SHORT = chat(
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris is the capital of France.' },
);

/** A question and no answer: nothing to train. */
export const NO_ANSWER = chat({ role: 'user', content: 'What is the capital of France?' });

/** Two samples (JSONL) whose answers differ a lot in length. */
export const SHORT_AND_LONG = [
  [{ role: 'user', content: 'Capital of France?' }, { role: 'assistant', content: 'Paris.' }],
  [
    { role: 'user', content: 'Describe Paris in one sentence.' },
    { role: 'assistant', content: 'Paris is the capital of France, a city on the Seine known for its museums, its cafés, its bridges and the Eiffel Tower.' },
  ],
]
  .map((messages) => JSON.stringify({ messages }))
  .join('\n');

/** One turn for the Qwen3 template (it writes an empty think block before the last answer). */
export const QWEN_TURN = chat({ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: 'Four.' });
