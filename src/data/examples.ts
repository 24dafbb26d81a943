// Built-in examples, one per situation the masking panel should make visible. Each is written in a
// different input format so the examples also demonstrate the parser.
import type { Example } from './types';

const LONG_PROMPT_REVIEW = [
  'I bought this kettle three weeks ago after my old one finally gave up, and I want to leave a fair review because the listing photos',
  'made it look better than it is. The good parts first: it boils a full litre in a little under three minutes, the handle stays cool,',
  'and the lid opens with one button instead of having to be pried up like my last one. It is also quieter than I expected, more of a',
  'low rumble than a roar, which matters in a small flat where the kitchen is two steps from the bedroom.',
  '',
  'Now the problems. The water window is on the side facing the wall when the kettle sits on its base, so you have to lift it to see how',
  'much is inside. The limescale filter at the spout popped out twice in the first week and I nearly poured it into a mug. There is a',
  'faint plastic smell on the first few boils, which the manual says is normal and which did fade after about ten uses, but it put my',
  'partner off tea for a couple of days. Finally, the cord on the base is short, maybe sixty centimetres, so it only works if your socket',
  'is right next to where you want the kettle.',
  '',
  'Overall it does the one thing a kettle needs to do, and does it quickly, but the small design choices add up to a slightly annoying',
  'daily experience. For the price I expected a bit more care.',
].join('\n');

/** Country → capital: one terse answer per chat, the same system prompt and question shape in all of them. */
const CAPITALS: readonly [string, string][] = [
  ['France', 'Paris'], ['Japan', 'Tokyo'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Germany', 'Berlin'],
  ['Canada', 'Ottawa'], ['Egypt', 'Cairo'], ['Kenya', 'Nairobi'], ['Peru', 'Lima'], ['Chile', 'Santiago'],
  ['Norway', 'Oslo'], ['Sweden', 'Stockholm'], ['Finland', 'Helsinki'], ['Poland', 'Warsaw'], ['Greece', 'Athens'],
  ['Portugal', 'Lisbon'], ['Ireland', 'Dublin'], ['Austria', 'Vienna'], ['Hungary', 'Budapest'], ['Russia', 'Moscow'],
  ['China', 'Beijing'], ['India', 'New Delhi'], ['Thailand', 'Bangkok'], ['Vietnam', 'Hanoi'], ['Indonesia', 'Jakarta'],
  ['Argentina', 'Buenos Aires'], ['Brazil', 'Brasília'], ['Mexico', 'Mexico City'], ['Cuba', 'Havana'], ['Turkey', 'Ankara'],
  ['Iran', 'Tehran'], ['Iraq', 'Baghdad'], ['Morocco', 'Rabat'], ['Nigeria', 'Abuja'], ['Ghana', 'Accra'],
  ['Australia', 'Canberra'], ['New Zealand', 'Wellington'], ['Denmark', 'Copenhagen'], ['Belgium', 'Brussels'], ['Switzerland', 'Bern'],
];

export const EXAMPLES: Example[] = [
  {
    id: 'short-qa',
    title: 'Short question, short answer',
    text: 'User: What is the capital of Australia?\nAssistant: Canberra. Many people guess Sydney, but Canberra was chosen as a compromise between Sydney and Melbourne.',
  },
  {
    id: 'long-prompt',
    title: 'Long prompt, one-word answer',
    text: JSON.stringify(
      [
        {
          role: 'user',
          content: `Classify the overall sentiment of this product review as Positive, Negative or Mixed. Answer with one word.\n\n${LONG_PROMPT_REVIEW}`,
        },
        { role: 'assistant', content: 'Mixed' },
      ],
      null,
      2,
    ),
  },
  {
    id: 'multi-turn',
    title: 'Multi-turn: three assistant turns',
    text: JSON.stringify(
      [
        { role: 'user', content: 'I have eggs, spinach and some feta. What can I make for dinner?' },
        {
          role: 'assistant',
          content: 'A spinach and feta omelette works well. Wilt the spinach in a pan first, then pour in the beaten eggs and crumble the feta on top before folding.',
        },
        { role: 'user', content: 'How many eggs should I use for two people?' },
        { role: 'assistant', content: 'Use five or six eggs for two people, and cook them as two separate omelettes so each one stays soft in the middle.' },
        { role: 'user', content: 'Can I make it without a non-stick pan?' },
        {
          role: 'assistant',
          content: 'Yes. Heat a steel pan well, add a generous knob of butter and wait until it stops foaming before the eggs go in. Keep the heat medium so the eggs set without sticking.',
        },
      ],
      null,
      2,
    ),
  },
  {
    id: 'system-prompt',
    title: 'System prompt',
    text: JSON.stringify(
      {
        conversations: [
          { from: 'system', value: 'You are a patient maths tutor. Explain each step in plain words and never just give the final number.' },
          { from: 'human', value: 'What is 15% of 80?' },
          {
            from: 'gpt',
            value: 'Start by finding 10% of 80, which is 8. Half of that is 5%, which is 4. Adding them gives 15%: 8 + 4 = 12. So 15% of 80 is 12.',
          },
        ],
      },
      null,
      2,
    ),
  },
  {
    // Chinese text: multi-byte UTF-8 characters that byte-level BPE splits inside a character,
    // SentencePiece byte fallback, and full-width punctuation, in three assistant turns.
    id: 'zh-multi-turn',
    title: 'Chinese multi-turn chat',
    text: JSON.stringify(
      [
        { role: 'user', content: '我想周末去杭州玩两天，有什么推荐的地方吗？' },
        { role: 'assistant', content: '可以先去西湖，沿着苏堤和白堤慢慢走，傍晚在断桥附近看日落。第二天去灵隐寺，再到龙井村喝一杯明前龙井。' },
        { role: 'user', content: '从上海过去怎么走最方便？' },
        { role: 'assistant', content: '坐高铁最方便：从上海虹桥站到杭州东站大约一个小时，白天每隔几分钟就有一班。' },
        { role: 'user', content: '谢谢！那边的天气怎么样？' },
        { role: 'assistant', content: '春秋两季最舒服，气温在十五到二十五度之间。夏天闷热多雨，记得带伞。' },
      ],
      null,
      2,
    ),
  },
  {
    id: 'zh-system-prompt',
    title: 'Chinese chat with a system prompt',
    text: JSON.stringify(
      {
        messages: [
          { role: 'system', content: '你是一位耐心的数学老师。请用简单的语言解释每一步，不要只给出最后的答案。' },
          { role: 'user', content: '80 的 15% 是多少？' },
          { role: 'assistant', content: '先算 80 的 10%，是 8。它的一半就是 5%，也就是 4。两者相加得到 15%：8 + 4 = 12。所以 80 的 15% 是 12。' },
        ],
      },
      null,
      2,
    ),
  },
  {
    id: 'reasoning',
    title: 'Reasoning answer with <think>',
    text: JSON.stringify(
      {
        messages: [
          { role: 'user', content: 'A train leaves at 14:45 and the journey takes 2 hours 35 minutes. When does it arrive?' },
          {
            role: 'assistant',
            content:
              '<think>\nStart at 14:45. Adding 2 hours gives 16:45. Adding 35 more minutes: 16:45 plus 15 minutes is 17:00, and the remaining 20 minutes makes 17:20.\n</think>\n\nThe train arrives at 17:20.',
          },
        ],
      },
      null,
      2,
    ),
  },
  {
    id: 'tool-use',
    title: 'Tool call and tool result (with "tools")',
    text: JSON.stringify(
      {
        messages: [
          { role: 'user', content: 'What is the weather in Paris right now?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temperature_c": 18, "sky": "sunny"}' },
          { role: 'assistant', content: 'It is 18 °C and sunny in Paris.' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Current weather in a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
          },
        ],
      },
      null,
      2,
    ),
  },
  {
    id: 'jsonl-dataset',
    title: 'Small JSONL dataset (3 samples)',
    text: [
      { messages: [{ role: 'user', content: 'Translate "good morning" into French.' }, { role: 'assistant', content: 'Bonjour.' }] },
      { messages: [{ role: 'user', content: 'Give me a synonym for "happy".' }, { role: 'assistant', content: 'Cheerful.' }] },
      {
        messages: [
          { role: 'system', content: 'Answer in one short sentence.' },
          { role: 'user', content: 'Why is the sky blue?' },
          { role: 'assistant', content: 'Air scatters blue sunlight more than red, so blue light reaches our eyes from every direction.' },
        ],
      },
    ]
      .map((s) => JSON.stringify(s))
      .join('\n'),
  },
  {
    // Enough samples to hold some out (the optimizer's held-out share): the held-out curve shows
    // how each run does on answers it never trained on, in the style it trained on.
    id: 'capitals-dataset',
    title: `Dataset: ${CAPITALS.length} capital cities, terse answers (JSONL)`,
    text: CAPITALS.map(([country, city]) =>
      JSON.stringify({
        messages: [
          { role: 'system', content: 'Answer in one short sentence.' },
          { role: 'user', content: `What is the capital of ${country}?` },
          { role: 'assistant', content: `The capital of ${country} is ${city}.` },
        ],
      }),
    ).join('\n'),
  },
];
