/**
 * Input checking shared by the model steps: a zod schema per step, and `CONFIG_INVALID` naming the step and each bad
 * input (`input hyperparameters.trees: ...`).
 */
import { z } from 'zod';

import { MloeError } from '../../../core/errors';
import type { JsonValue } from '../../../core/spec';

/** Parses a step's inputs with `schema`; `CONFIG_INVALID` naming `step` and every bad input. */
export function parseStepInputs<T extends z.ZodType>(
  step: string,
  schema: T,
  inputs: Readonly<Record<string, JsonValue>>,
): z.output<T> {
  const parsed = schema.safeParse(inputs);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `input ${issue.path.join('.')}: ${issue.message}`);
    throw new MloeError('CONFIG_INVALID', `${step}: ${problems.join('; ')}`, { cause: parsed.error });
  }
  return parsed.data;
}
