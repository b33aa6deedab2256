/**
 * Promotion's side effects: alias moves and rollbacks in the MLflow model registry, the tags that record them, and
 * the escalation webhook (see docs/promotion.md).
 */
export {
  createPromotionActivities,
  type EscalatePromotionInput,
  type PromotionActivities,
  type PromotionActivityOptions,
  type RecordPromotionInput,
} from './activities';
export {
  promoteVersion,
  promotionRefusal,
  rollbackAlias,
  versionByAlias,
  type AliasMoveRequest,
  type AliasMoveResult,
  type RollbackRequest,
  type RollbackResult,
} from './aliases';
export { ALIAS_HISTORY_TAG, PROMOTION_TAGS, appendAliasHistory, tagOf, type AliasMove } from './tags';
export { postWebhook } from './webhook';
