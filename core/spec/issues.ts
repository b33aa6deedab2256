/**
 * Validation problems as values: each names its code, the field path, the file position and how to fix it.
 * Validation collects all of them; entry points refuse to start anything while any is left.
 */
import { MloeError } from '../errors';
import type { PathSegment, SourceMap } from './source-map';

/** Every problem the parser and validator report. Stable: tests and tools match on these. */
export type SpecIssueCode =
  /** The text is not well-formed YAML (or JSON). */
  | 'YAML_SYNTAX'
  /** A field the spec does not define (often a typo). */
  | 'UNKNOWN_FIELD'
  /** A required field is absent. */
  | 'MISSING_FIELD'
  /** A field has the wrong type (a number where a string is expected, ...). */
  | 'INVALID_TYPE'
  /** A field has the right type but a value outside what is allowed. */
  | 'INVALID_VALUE'
  /** A step id, parameter, input or output name is not an identifier. */
  | 'INVALID_ID'
  /** The same step id or field appears twice. */
  | 'DUPLICATE_ID'
  /**
   * A step is malformed as a whole: not exactly one of `uses`, `run` and `pipeline`, ports declared on a registered
   * step, a field a `pipeline` step cannot have, ...
   */
  | 'INVALID_STEP'
  /** `uses` names a step that is not registered. */
  | 'UNKNOWN_STEP_TYPE'
  /** `uses` names a registered step at a version that is not registered. */
  | 'UNKNOWN_STEP_VERSION'
  /** `needs` names a step that does not exist. */
  | 'UNKNOWN_NEED'
  /** `needs` names the same step twice. */
  | 'DUPLICATE_NEED'
  /** Steps need each other in a circle. */
  | 'CYCLE'
  /** `with` binds a value to an input the step does not have. */
  | 'UNKNOWN_INPUT'
  /** A required input of the step has no value. */
  | 'MISSING_INPUT'
  /** A value does not have the type of the input, parameter or condition it is used for. */
  | 'TYPE_MISMATCH'
  /** A `${{ }}` expression does not parse. */
  | 'EXPRESSION_SYNTAX'
  /** A `${{ }}` expression does not type-check. */
  | 'EXPRESSION_TYPE'
  /** An expression uses a variable that is not in scope. */
  | 'UNKNOWN_VARIABLE'
  /** An expression reads `params.X` for an undeclared parameter. */
  | 'UNKNOWN_PARAM'
  /** An expression reads `steps.X` for a step that does not exist. */
  | 'UNKNOWN_STEP_REFERENCE'
  /** An expression reads the outputs of a step that is not among the step's `needs`, directly or transitively. */
  | 'NOT_UPSTREAM'
  /** An expression reads an output the step does not have. */
  | 'UNKNOWN_OUTPUT'
  /** A parameter declaration is inconsistent (default of the wrong type, enum without values, ...). */
  | 'INVALID_PARAM'
  /** A supplied parameter value has the wrong type or is out of range. */
  | 'PARAM_VALUE_INVALID'
  /** A required parameter has no supplied value. */
  | 'PARAM_REQUIRED'
  /** A value was supplied for a parameter the pipeline does not declare. */
  | 'UNKNOWN_PARAM_VALUE'
  /** A duration is not of the form `30s`, `5m`, `1h30m`. */
  | 'INVALID_DURATION'
  /** A CPU or memory quantity is malformed. */
  | 'INVALID_QUANTITY'
  /** A retry policy is inconsistent (`maximumInterval` below `initialInterval`). */
  | 'INVALID_RETRY'
  /** A `heartbeatTimeout` is not shorter than the step's `timeout`, so it could never fire. */
  | 'INVALID_HEARTBEAT'
  /** A step's `pipeline:` path is absolute, a URL, or leaves the directory of the root spec. */
  | 'PIPELINE_PATH_INVALID'
  /** A step's `pipeline:` file does not exist or cannot be read. */
  | 'PIPELINE_NOT_FOUND'
  /** Pipeline files include each other in a circle (`a.yaml` runs `b.yaml`, which runs `a.yaml`). */
  | 'PIPELINE_CYCLE'
  /** A step's `pipeline:` file has errors of its own (reported with that file's name and positions). */
  | 'PIPELINE_INVALID'
  /**
   * A promotion's settings contradict each other or the pipeline: an alias the promote step moves is also set by
   * the register step it promotes, or the same alias is both `alias` and `previousAlias`.
   */
  | 'PROMOTION_CONFLICT';

/** The code of an expression that does not check, by the kind of problem CEL found in it. */
export function celIssueCode(kind: 'syntax' | 'type' | 'unknown-variable'): SpecIssueCode {
  return kind === 'syntax' ? 'EXPRESSION_SYNTAX' : kind === 'unknown-variable' ? 'UNKNOWN_VARIABLE' : 'EXPRESSION_TYPE';
}

/** One problem, ready to print. */
export interface SpecIssue {
  code: SpecIssueCode;
  /** What is wrong, in a sentence. */
  message: string;
  /** How to fix it. */
  hint: string;
  /** The field, as `steps.train.with.lr` (empty for the document as a whole). */
  path: string;
  /** The field as segments, for tools. */
  segments: PathSegment[];
  /** The file, when the spec came from one. */
  file?: string;
  /** 1-based position, when the spec came from text. */
  line?: number;
  column?: number;
}

/** A problem before it is placed in the file: the validator's output. */
export interface IssueDraft {
  code: SpecIssueCode;
  message: string;
  hint: string;
  path: readonly PathSegment[];
  /** Point at the field's key rather than its value (unknown and repeated fields), or nowhere in the file (a
   * problem with a value supplied from outside, such as a `--param`). */
  at?: 'key' | 'value' | 'none';
  /** Point at this character of a string value (an error inside an expression). */
  index?: number;
  /** Point at this offset of the source text (for problems the parser finds, where the path alone is ambiguous). */
  offset?: number;
}

const SIMPLE_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Formats a field path as `steps.train.with.lr`, `steps.train.needs[1]` or `metadata.labels["app.kubernetes.io"]`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (SIMPLE_SEGMENT.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** Places drafts in the file and sorts them by position (see {@link sortIssues}). */
export function finalizeIssues(
  drafts: readonly IssueDraft[],
  sourceMap: SourceMap | undefined,
  file: string | undefined,
): SpecIssue[] {
  return sortIssues(
    drafts.map((draft) => {
      const position =
        draft.at === 'none'
          ? undefined
          : draft.offset !== undefined
            ? sourceMap?.position(draft.offset)
            : draft.index === undefined
              ? sourceMap?.locate(draft.path, draft.at === 'key' ? 'key' : 'value')
              : sourceMap?.locateInString(draft.path, draft.index);
      return {
        code: draft.code,
        message: draft.message,
        hint: draft.hint,
        path: formatPath(draft.path),
        segments: [...draft.path],
        ...(file === undefined ? {} : { file }),
        ...(position === undefined ? {} : { line: position.line, column: position.column }),
      };
    }),
  );
}

/** Sorts issues by line and column; those without a position go last. The sort is stable. */
export function sortIssues(issues: readonly SpecIssue[]): SpecIssue[] {
  return issues
    .map((issue, order) => ({ issue, order }))
    .sort(
      (a, b) =>
        (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) ||
        (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
        a.order - b.order,
    )
    .map(({ issue }) => issue);
}

/** One issue as a line: `file:line:col  path  message (hint)`. */
export function formatIssue(issue: SpecIssue): string {
  const place = [issue.file ?? '<spec>', issue.line, issue.column].filter((part) => part !== undefined).join(':');
  return `${place}  ${issue.path === '' ? '<root>' : issue.path}  ${issue.message} (${issue.hint})`;
}

/** Thrown by entry points given an invalid spec; `issues` lists every problem. Never retryable. */
export class SpecInvalidError extends MloeError {
  readonly issues: readonly SpecIssue[];

  constructor(issues: readonly SpecIssue[], what = 'pipeline spec') {
    const count = issues.length === 1 ? '1 error' : `${issues.length} errors`;
    const first = issues[0];
    super('SPEC_INVALID', `invalid ${what} (${count})${first === undefined ? '' : `: ${formatIssue(first)}`}`, {
      retryable: false,
    });
    this.issues = issues;
  }
}

/** The candidates closest to a misspelt name (edit distance at most a third of its length, and at most 3). */
export function closestNames(name: string, candidates: Iterable<string>): string[] {
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  const scored: { candidate: string; distance: number }[] = [];
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit) scored.push({ candidate, distance });
  }
  scored.sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate));
  return scored.map(({ candidate }) => candidate);
}

/** "did you mean 'x'?" when a candidate is close, else the list of what is allowed (or `otherwise`). */
export function suggest(name: string, candidates: readonly string[], otherwise?: string): string {
  const [best] = closestNames(name, candidates);
  if (best !== undefined) return `did you mean '${best}'?`;
  if (otherwise !== undefined) return otherwise;
  return candidates.length === 0 ? 'there are none' : `expected one of: ${candidates.join(', ')}`;
}

/** Damerau-Levenshtein distance (optimal string alignment): a swap of two letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[] = new Array<number>(rows * columns).fill(0);
  const at = (i: number, j: number): number => d[i * columns + j] ?? 0;
  for (let i = 0; i < rows; i += 1) d[i * columns] = i;
  for (let j = 0; j < columns; j += 1) d[j] = j;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < columns; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * columns + j] = value;
    }
  }
  return at(rows - 1, columns - 1);
}
