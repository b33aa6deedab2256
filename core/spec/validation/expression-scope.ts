/**
 * What the validator knows about the place of an expression (the step, the field, the variables in scope) and what it
 * found the expression to be.
 */
import type { CelVariables } from '../../expressions/cel';
import type { OutputPort } from '../schema';
import type { ExpressionField } from '../scope';

/** What an expression was found to be. */
export interface ExpressionInfo {
  /** Its CEL type. */
  type: string;
  /** When it is exactly `steps.X.outputs.Y`: that output. */
  output?: { step: string; name: string; port: OutputPort; foreach: boolean };
}

/** Everything an expression of one step in one field is checked against. */
export interface ExpressionScope {
  stepId: string;
  field: ExpressionField;
  /** The variables in scope, typing only the given steps of those visible (all when undefined). */
  variablesFor: (steps?: ReadonlySet<string>) => CelVariables;
  /** Whether `item` is in scope (a `foreach` step, outside its `foreach` field). */
  hasItem: boolean;
  upstream: ReadonlySet<string>;
  /** The step's own declared inputs (inside `run:`). */
  inputs?: Readonly<Record<string, unknown>>;
}
