// What the lab's views need of the strategies on the main thread: their names and option specs,
// and how a marker's newlines are typed in a one-line field.
import { STRATEGIES, type StrategyId } from '../../data/strategies';

export const STRATEGY_BY_ID: ReadonlyMap<StrategyId, (typeof STRATEGIES)[number]> = new Map(STRATEGIES.map((s) => [s.id, s]));

/** Options shown to people: a marker's newlines and tabs as \n and \t (a backslash as \\). */
export function escapeOption(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}
export function unescapeOption(s: string): string {
  return s.replace(/\\(\\|n|t)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}
