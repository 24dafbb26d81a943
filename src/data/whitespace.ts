// Make whitespace visible in token chips, one symbol per character so offsets still line up:
// space → ␣, newline → ↵, tab → ⇥, carriage return → ␍.
export function visibleWhitespace(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === ' ') out += '␣';
    else if (ch === '\n') out += '↵';
    else if (ch === '\t') out += '⇥';
    else if (ch === '\r') out += '␍';
    else out += ch;
  }
  return out;
}
