import type { Example } from './types';
// Filled in the next commit.
export const EXAMPLES: Example[] = [];
