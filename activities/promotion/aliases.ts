/**
 * Alias moves in the MLflow model registry: promoting a version (the alias to it, the previous alias to the version
 * it replaces) and rolling back (the alias back to the previous version). MLflow has no transaction over two aliases,
 * so the order makes every intermediate state safe and every call repeatable:
 *
 * 1. The version must carry `mloe.promotion.policies = passed` and an approval from the same run: a version that
 *    failed a policy, was rejected or was registered by hand is refused (`PROMOTION_REFUSED`), whatever calls this.
 * 2. The version the alias points at now is written on the new version (`mloe.promotion.previousVersion`) before
 *    anything moves. If the alias already points at the new version (a retry after the move), that tag says what the
 *    previous alias must point at, so a retry converges on the same end state.
 * 3. The previous alias moves first (for a moment both aliases name the old champion, which is harmless), then the
 *    alias itself: the one call that puts the new version in production, last.
 * 4. Then who, when and why: tags on the version, and an entry in the registered model's history.
 *
 * A crash anywhere leaves the alias on the old champion or on the new, approved version; never on a version that
 * failed a policy.
 */
import { MloeError } from '../../core/errors';
import { isMlflowError, type MlflowClient, type ModelVersion } from '../mlflow';
import { PROMOTION_TAGS, appendAliasHistory, fitTag, tagOf } from './tags';

/** What {@link promoteVersion} moves, and on whose word. */
export interface AliasMoveRequest {
  model: string;
  version: string;
  alias: string;
  previousAlias: string;
  /** Who approved, and why. */
  identity: string;
  reason?: string;
  /** The run and step that decided: the version's approval must be theirs. */
  workflowId: string;
  step: string;
}

/** Where the aliases point after a move. */
export interface AliasMoveResult {
  version: string;
  /** The version the previous alias points at; absent when there was no champion. */
  previousVersion?: string;
  /** The alias pointed at the version already (a retry, or promoting the champion again). */
  alreadyThere: boolean;
}

/** The version an alias points at, or undefined when the model has no such alias (MLflow: INVALID_PARAMETER_VALUE). */
export async function versionByAlias(
  client: MlflowClient,
  model: string,
  alias: string,
): Promise<ModelVersion | undefined> {
  try {
    return await client.registeredModels.getVersionByAlias(model, alias);
  } catch (error) {
    if (isMlflowError(error, 'INVALID_PARAMETER_VALUE') || isMlflowError(error, 'RESOURCE_DOES_NOT_EXIST')) {
      return undefined;
    }
    throw error;
  }
}

/** Removes an alias; one that does not exist is fine. */
async function deleteAliasIfAny(client: MlflowClient, model: string, alias: string): Promise<void> {
  try {
    await client.registeredModels.deleteAlias(model, alias);
  } catch (error) {
    if (!isMlflowError(error, 'INVALID_PARAMETER_VALUE') && !isMlflowError(error, 'RESOURCE_DOES_NOT_EXIST')) {
      throw error;
    }
  }
}

/** Why a version may not be promoted by this run, or undefined. */
export function promotionRefusal(version: ModelVersion, workflowId: string): string | undefined {
  const label = `model ${version.name} version ${version.version}`;
  const policies = tagOf(version, PROMOTION_TAGS.policies);
  if (policies !== 'passed') {
    return policies === 'failed'
      ? `${label} failed a promotion policy (${tagOf(version, PROMOTION_TAGS.state) ?? 'policy-failed'}); an alias never moves onto it`
      : `${label} has no passed promotion policies (${PROMOTION_TAGS.policies} is not 'passed')`;
  }
  if (tagOf(version, PROMOTION_TAGS.workflowId) !== workflowId) {
    return `${label} is being promoted by run ${tagOf(version, PROMOTION_TAGS.workflowId) ?? '(none)'}, not ${workflowId}`;
  }
  const decision = tagOf(version, PROMOTION_TAGS.decision);
  if (decision !== 'approved') return `${label} is not approved (decision: ${decision ?? 'none'})`;
  return undefined;
}

/** Promotes a version (see the module doc); repeatable. */
export async function promoteVersion(client: MlflowClient, request: AliasMoveRequest): Promise<AliasMoveResult> {
  const { model, version, alias, previousAlias } = request;
  let target: ModelVersion;
  try {
    target = await client.modelVersions.get(model, version);
  } catch (error) {
    if (isMlflowError(error, 'RESOURCE_DOES_NOT_EXIST')) {
      throw new MloeError('PROMOTION_REFUSED', `model ${model} has no version ${version}`, { cause: error });
    }
    throw error;
  }
  const refusal = promotionRefusal(target, request.workflowId);
  if (refusal !== undefined) throw new MloeError('PROMOTION_REFUSED', refusal);

  const champion = await versionByAlias(client, model, alias);
  const alreadyThere = champion?.version === version;
  let previous: string | undefined;
  if (alreadyThere) {
    const recorded = tagOf(target, PROMOTION_TAGS.previousVersion);
    previous = recorded === undefined || recorded === '' || recorded === version ? undefined : recorded;
  } else {
    previous = champion?.version;
    await client.modelVersions.setTag(model, version, PROMOTION_TAGS.previousVersion, previous ?? '');
  }
  if (previous === undefined) await deleteAliasIfAny(client, model, previousAlias);
  else await client.registeredModels.setAlias(model, previousAlias, previous);
  if (!alreadyThere) await client.registeredModels.setAlias(model, alias, version);

  const at = tagOf(target, PROMOTION_TAGS.promotedAt) ?? new Date().toISOString();
  const tags: Record<string, string> = {
    [PROMOTION_TAGS.state]: 'promoted',
    [PROMOTION_TAGS.alias]: alias,
    [PROMOTION_TAGS.promotedAt]: at,
  };
  for (const [key, value] of Object.entries(tags)) await client.modelVersions.setTag(model, version, key, value);
  await appendAliasHistory(client, model, {
    action: 'promote',
    alias,
    version,
    from: previous ?? '',
    by: request.identity,
    at,
    ...(request.reason === undefined ? {} : { reason: request.reason }),
    workflowId: request.workflowId,
  });
  return { version, ...(previous === undefined ? {} : { previousVersion: previous }), alreadyThere };
}

/** What {@link rollbackAlias} moves, and on whose word. */
export interface RollbackRequest {
  model: string;
  alias: string;
  previousAlias: string;
  identity: string;
  reason?: string;
}

/** Where the aliases point after a rollback. */
export interface RollbackResult {
  /** The version taken out of production. */
  from: string;
  /** The version the alias points at now. */
  to: string;
  /** The version the previous alias points at now (the one before `to`), if any. */
  previousVersion?: string;
}

/**
 * Moves the alias back to the previous alias's version, tags the version taken out (`rolled-back`, who, when, why)
 * and points the previous alias at the version that preceded the restored one (or removes it): the registry is as
 * it was before the rolled-back promotion. Completes a rollback that was cut short (both aliases on one version).
 */
export async function rollbackAlias(client: MlflowClient, request: RollbackRequest): Promise<RollbackResult> {
  const { model, alias, previousAlias } = request;
  await client.registeredModels.get(model); // RESOURCE_DOES_NOT_EXIST names the model
  const champion = await versionByAlias(client, model, alias);
  if (champion === undefined) {
    throw new MloeError('PROMOTION_REFUSED', `model ${model} has no '${alias}' alias: there is nothing to roll back`);
  }
  const previous = await versionByAlias(client, model, previousAlias);
  if (previous === undefined) {
    throw new MloeError(
      'PROMOTION_REFUSED',
      `model ${model} has no '${previousAlias}' alias: there is no version to roll back to (set one with \`mloe models alias set ${model} ${alias} VERSION\`)`,
    );
  }
  const at = new Date().toISOString();
  let from = champion.version;
  if (previous.version === champion.version) {
    // A rollback cut short after the alias moved: finish it (the version taken out is in the history's last entry).
    from = '';
  } else {
    const tags: Record<string, string> = {
      [PROMOTION_TAGS.state]: 'rolled-back',
      [PROMOTION_TAGS.rolledBackBy]: request.identity,
      [PROMOTION_TAGS.rolledBackAt]: at,
      ...(request.reason === undefined ? {} : { [PROMOTION_TAGS.rolledBackReason]: fitTag(request.reason) }),
    };
    for (const [key, value] of Object.entries(tags)) {
      await client.modelVersions.setTag(model, champion.version, key, value);
    }
    await client.registeredModels.setAlias(model, alias, previous.version);
  }
  const before = tagOf(previous, PROMOTION_TAGS.previousVersion);
  const restoredPrevious = before === undefined || before === '' || before === previous.version ? undefined : before;
  if (restoredPrevious === undefined) await deleteAliasIfAny(client, model, previousAlias);
  else await client.registeredModels.setAlias(model, previousAlias, restoredPrevious);
  if (from !== '') {
    await appendAliasHistory(client, model, {
      action: 'rollback',
      alias,
      version: previous.version,
      from,
      by: request.identity,
      at,
      ...(request.reason === undefined ? {} : { reason: request.reason }),
    });
  }
  return {
    from: from === '' ? previous.version : from,
    to: previous.version,
    ...(restoredPrevious === undefined ? {} : { previousVersion: restoredPrevious }),
  };
}
