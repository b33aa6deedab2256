/**
 * Promotion: the shared types of policies, approvals and alias moves, and the pure evaluation of policy rules (see
 * docs/promotion.md). Deterministic: the workflow evaluates policies with it.
 */
export * from './types';
export {
  PROMOTE_PORTS,
  describePolicyOutcome,
  evaluatePolicies,
  policyRuleProblem,
  policyVariables,
  type PolicyContext,
} from './policies';
