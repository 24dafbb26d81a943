/**
 * Central finite differences in Float64, for the reference's gradient tests.
 * d f / d x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h; truncation error O(h^2), round-off O(eps/h).
 */

export interface GradCheckResult {
  name: string;
  /** Coordinates compared. */
  count: number;
  maxAbs: number;
  /** max |a − n| / |n| over coordinates with |n| > 1e-6 (0 if none). */
  maxRel: number;
  /** Coordinates with |a − n| > atol + rtol·|n|. */
  failures: number;
}

/**
 * Compares `analytic[i]` with the central difference of `f` in `x[i]` for each i in `indices`
 * (all of x by default). `x` is perturbed in place and restored.
 */
export function gradCheck(
  name: string, f: () => number, x: Float64Array, analytic: ArrayLike<number>,
  opts: { h?: number; atol?: number; rtol?: number; indices?: readonly number[] } = {},
): GradCheckResult {
  const h = opts.h ?? 1e-5, atol = opts.atol ?? 1e-8, rtol = opts.rtol ?? 1e-6;
  const indices = opts.indices ?? Array.from({ length: x.length }, (_, i) => i);
  const r: GradCheckResult = { name, count: indices.length, maxAbs: 0, maxRel: 0, failures: 0 };
  for (const i of indices) {
    const x0 = x[i];
    x[i] = x0 + h;
    const fp = f();
    x[i] = x0 - h;
    const fm = f();
    x[i] = x0;
    const num = (fp - fm) / (2 * h);
    const err = Math.abs(analytic[i] - num);
    r.maxAbs = Math.max(r.maxAbs, err);
    if (Math.abs(num) > 1e-6) r.maxRel = Math.max(r.maxRel, err / Math.abs(num));
    if (!(err <= atol + rtol * Math.abs(num))) r.failures++;
  }
  return r;
}

/** One line per check, for the test log. */
export function formatCheck(r: GradCheckResult): string {
  return `${r.name.padEnd(44)} n=${String(r.count).padStart(5)}  max|Δ|=${r.maxAbs.toExponential(2)}  max rel=${r.maxRel.toExponential(2)}${r.failures ? `  FAILURES=${r.failures}` : ''}`;
}

/** sum_i r_i * y_i: a random linear functional, so one scalar exercises every output. */
export function dot(r: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += r[i] * y[i];
  return s;
}
