/** The activity of the UI benchmark's long-history workflow. */

/** Returns a small reading derived from its input (a payload for each completed event). */
export function recordReading(input: { i: number; note: string }): Promise<{ i: number; value: number }> {
  return Promise.resolve({ i: input.i, value: Math.sin(input.i) });
}
