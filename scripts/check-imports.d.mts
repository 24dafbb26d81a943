// Types for scripts/check-imports.mjs (plain ESM), so that check-imports.test.ts typechecks.

export type LayerName = string;

export interface Reference {
  specifier: string;
  /** 'import' | 'import type' | 'export from' | 'export type' | 'import()' | 'new URL' | 'require()' | ... */
  kind: string;
  typeOnly: boolean;
  /** 1-based line of the specifier. */
  line: number;
}

export interface Violation {
  /** Relative to the root, '/' separators. */
  file: string;
  line: number;
  from: LayerName;
  to: LayerName;
  specifier: string;
  kind: string;
  typeOnly: boolean;
  reason: string;
}

export interface GraphPair {
  from: LayerName;
  to: LayerName;
  /** Imports from non-exempt files. */
  imports: number;
  typeOnly: number;
  notAllowed: number;
  /** Imports from exempt files (tests, fixtures), not checked. */
  exempt: number;
}

export interface Analysis {
  files: number;
  exemptFiles: number;
  checked: number;
  packages: number;
  violations: Violation[];
  graph: GraphPair[];
}

export interface OnlyRule {
  label: string;
  test(ref: Reference & { targetPath: string; resolved: boolean }): boolean;
}

export interface LayerRule {
  may: '*' | Array<LayerName | { layer: LayerName; only: OnlyRule[] }>;
  why?: Record<LayerName, string>;
}

export const LAYERS: Record<LayerName, LayerRule>;
export const EXEMPT: Array<{ why: string; test(path: string): boolean }>;

export function layerOf(abs: string, root: string): LayerName;
export function findReferences(text: string, fileName: string): Reference[];
export function analyzeImports(rootDir: string): Analysis;
export function checkImports(rootDir: string): Violation[];
export function formatViolation(v: Violation): string;
export function formatGraph(result: Analysis): string;
