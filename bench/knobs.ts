/**
 * The benchmarks' knobs: sizes and repeat counts read from `BENCH_*` environment variables, so that a run can be
 * made shorter or longer without editing code. A bad value stops the benchmark with a message naming the variable.
 */

/** The whole number ≥ 1 in the variable `name`, or `fallback` when it is unset or empty. */
export function positiveInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${text}'`);
  return value;
}

/** The value of the variable `name` if it is one of `choices`, or `fallback` when it is unset or empty. */
export function oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new Error(`${name} must be one of ${choices.join(', ')}, got '${text}'`);
  }
  return text as T;
}
