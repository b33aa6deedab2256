/**
 * What a promotion is made of, as data every room shares: policy outcomes, approval requests and decisions, and the
 * promotion's state as a run's status reports it. Types and constants only.
 */
import type { JsonValue } from '../spec/schema';

/** The alias a promotion moves unless the spec names another. */
export const DEFAULT_PROMOTION_ALIAS = 'champion';
/** The alias the replaced version gets unless the spec names another. */
export const DEFAULT_PREVIOUS_ALIAS = 'previous';
/** Who an `auto` approval is recorded as unless the spec names someone. */
export const DEFAULT_AUTO_IDENTITY = 'mloe:auto';
/** How long a `manual` approval gate waits unless the spec says otherwise: a week. */
export const DEFAULT_APPROVAL_TIMEOUT = '168h';

/** The outcome of one policy: its rule, the values it read, and whether it held. */
export interface PolicyOutcome {
  name: string;
  rule: string;
  /** Every field path the rule reads (`candidate.metrics.accuracy`), with its value (`null` when absent). */
  values: Record<string, JsonValue>;
  passed: boolean;
  /** Why the rule could not be evaluated (it then counts as failed). */
  error?: string;
}

/** What `approve` and `reject` carry. */
export interface ApprovalRequest {
  /** Who decides: required, recorded with the decision. */
  identity: string;
  /** Why; required to reject. */
  reason?: string;
  /** The promote step decided on, when the run waits at more than one. */
  step?: string;
}

/** A decision on a promotion, as recorded. */
export interface ApprovalDecision {
  decision: 'approved' | 'rejected';
  identity: string;
  reason?: string;
  /** Workflow time of the decision (ISO 8601). */
  at: string;
  /** How it was made: a person's update, the spec's auto approval, or the gate's timeout. */
  via: 'update' | 'auto' | 'timeout';
}

/** Where a promotion is. */
export type PromotionState =
  'checking' | 'policy-failed' | 'awaiting-approval' | 'escalated' | 'approved' | 'rejected' | 'promoted';

/** A promote step's promotion, as the run's status reports it. */
export interface PromotionStatus {
  state: PromotionState;
  model: string;
  version: string;
  alias: string;
  previousAlias: string;
  /** The version the alias pointed at when the promotion began (absent: none). */
  championVersion?: string;
  policies: PolicyOutcome[];
  /** Since when the gate waits (workflow time). */
  awaitingSince?: string;
  /** When the gate stops waiting (workflow time), if it has a deadline. */
  deadline?: string;
  decision?: ApprovalDecision;
  /** The version `previousAlias` points at after the move (absent: there was no champion). */
  previousVersion?: string;
  /** When the escalation webhook was called. */
  escalatedAt?: string;
}

/** The memo a run waiting for approval carries (`mloe approvals` reads it from visibility, no worker needed). */
export interface ApprovalMemo {
  step: string;
  pipeline: string;
  model: string;
  version: string;
  alias: string;
  championVersion?: string;
  since: string;
  deadline?: string;
  policies: { name: string; passed: boolean }[];
}
