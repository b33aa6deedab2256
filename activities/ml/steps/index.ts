/**
 * The model steps' implementations (`features@1`, `train@2`, `evaluate@2`, `deploy@1`), paired with their descriptors
 * (`core/steps/models.ts`); `activities/steps/builtin.ts` appends them to the built-in steps.
 */
import { MloeError } from '../../../core/errors';
import type { StepDescriptor } from '../../../core/spec';
import { MODEL_STEPS } from '../../../core/steps/models';
import { sourceDigest } from '../../cache/digests';
import type { StepImplementation } from '../../steps/registry';
import { runDeploy } from './deploy-step';
import { runEvaluate } from './evaluate-step';
import { runFeatures } from './features-step';
import { runTrain } from './train-step';

function descriptor(name: string, version: string): StepDescriptor {
  const found = MODEL_STEPS.find((step) => step.name === name && step.version === version);
  if (found === undefined) throw new MloeError('INTERNAL', `no model step descriptor ${name}@${version}`);
  return found;
}

/** Every module behind the data-and-model steps: a change to any invalidates their cached results. */
const MODEL_CODE_HASH = sourceDigest([
  require.resolve('./features-step'),
  require.resolve('./train-step'),
  require.resolve('./inputs'),
  require.resolve('../features/duckdb'),
  require.resolve('../features/fit'),
  require.resolve('../features/sql'),
  require.resolve('../features/transform'),
  require.resolve('../models/forest'),
  require.resolve('../models/hyperparameters'),
  require.resolve('../models/lbfgs'),
  require.resolve('../models/model'),
  require.resolve('../models/random'),
  require.resolve('../models/ridge'),
  require.resolve('../models/softmax'),
  require.resolve('../models/train'),
]);

/** The model steps. */
export const MODEL_STEP_IMPLEMENTATIONS: readonly StepImplementation[] = [
  { descriptor: descriptor('features', '1'), run: runFeatures, codeHash: MODEL_CODE_HASH },
  { descriptor: descriptor('train', '2'), run: runTrain, codeHash: MODEL_CODE_HASH },
  // Both read the registry, which changes without any input changing: never served from the cache.
  { descriptor: descriptor('evaluate', '2'), run: runEvaluate, codeHash: MODEL_CODE_HASH, cacheable: false },
  { descriptor: descriptor('deploy', '1'), run: runDeploy, codeHash: MODEL_CODE_HASH, cacheable: false },
];
