/**
 * Limited-memory BFGS (Nocedal and Wright, algorithm 7.4/7.5) with a backtracking Armijo line search, on plain
 * `Float64Array`s: the minimiser behind the softmax regression. Deterministic: no randomness, a fixed order of
 * floating-point operations.
 */

/** The objective: writes the gradient at `x` into `gradient` and returns the value. */
export type Objective = (x: Float64Array, gradient: Float64Array) => number;

/** Options of {@link minimize}. */
export interface LbfgsOptions {
  maxIterations: number;
  /** Stop when the largest gradient component is below this. */
  gradientTolerance: number;
  /** Pairs of the curvature history. */
  memory?: number;
}

/** The outcome of {@link minimize}. */
export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  /** The objective after each iteration (the first entry is the starting value). */
  history: number[];
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += (a[i] ?? 0) * (b[i] ?? 0);
  return sum;
}

function maxAbs(a: Float64Array): number {
  let best = 0;
  for (const value of a) best = Math.max(best, Math.abs(value));
  return best;
}

/** Minimises `objective` from `start` (not modified). */
export function minimize(objective: Objective, start: Float64Array, options: LbfgsOptions): LbfgsResult {
  const size = start.length;
  const memory = options.memory ?? 10;
  let x = Float64Array.from(start);
  let gradient = new Float64Array(size);
  let value = objective(x, gradient);
  const history = [value];
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];
  const direction = new Float64Array(size);
  const alpha = new Float64Array(memory);
  let iterations = 0;
  let converged = maxAbs(gradient) < options.gradientTolerance;
  while (!converged && iterations < options.maxIterations) {
    // Two-loop recursion: direction = -H·g.
    direction.set(gradient);
    for (let k = s.length - 1; k >= 0; k -= 1) {
      const a = (rho[k] ?? 0) * dot(s[k] as Float64Array, direction);
      alpha[k] = a;
      const yk = y[k] as Float64Array;
      for (let i = 0; i < size; i += 1) direction[i] = (direction[i] ?? 0) - a * (yk[i] ?? 0);
    }
    const last = s.length - 1;
    const gamma =
      last >= 0
        ? dot(s[last] as Float64Array, y[last] as Float64Array) / dot(y[last] as Float64Array, y[last] as Float64Array)
        : 1 / Math.max(1, Math.sqrt(dot(gradient, gradient)));
    for (let i = 0; i < size; i += 1) direction[i] = (direction[i] ?? 0) * gamma;
    for (let k = 0; k < s.length; k += 1) {
      const b = (rho[k] ?? 0) * dot(y[k] as Float64Array, direction);
      const sk = s[k] as Float64Array;
      const a = alpha[k] ?? 0;
      for (let i = 0; i < size; i += 1) direction[i] = (direction[i] ?? 0) + (a - b) * (sk[i] ?? 0);
    }
    for (let i = 0; i < size; i += 1) direction[i] = -(direction[i] ?? 0);
    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Not a descent direction (lost curvature): restart from steepest descent.
      s.length = 0;
      y.length = 0;
      rho.length = 0;
      for (let i = 0; i < size; i += 1)
        direction[i] = -(gradient[i] ?? 0) / Math.max(1, Math.sqrt(dot(gradient, gradient)));
      slope = dot(gradient, direction);
    }
    // Backtracking line search (Armijo, c = 1e-4).
    let step = 1;
    const next = new Float64Array(size);
    const nextGradient = new Float64Array(size);
    let nextValue = Number.POSITIVE_INFINITY;
    for (let tries = 0; tries < 50; tries += 1) {
      for (let i = 0; i < size; i += 1) next[i] = (x[i] ?? 0) + step * (direction[i] ?? 0);
      nextValue = objective(next, nextGradient);
      if (Number.isFinite(nextValue) && nextValue <= value + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(nextValue <= value)) break; // no progress possible: at the optimum to machine precision
    const sk = new Float64Array(size);
    const yk = new Float64Array(size);
    for (let i = 0; i < size; i += 1) {
      sk[i] = (next[i] ?? 0) - (x[i] ?? 0);
      yk[i] = (nextGradient[i] ?? 0) - (gradient[i] ?? 0);
    }
    const sy = dot(sk, yk);
    if (sy > 1e-12) {
      if (s.length === memory) {
        s.shift();
        y.shift();
        rho.shift();
      }
      s.push(sk);
      y.push(yk);
      rho.push(1 / sy);
    }
    const improvement = value - nextValue;
    x = next;
    gradient = nextGradient;
    value = nextValue;
    iterations += 1;
    history.push(value);
    converged = maxAbs(gradient) < options.gradientTolerance || improvement <= 1e-14 * Math.max(1, Math.abs(value));
  }
  return { x, value, iterations, history, converged };
}
