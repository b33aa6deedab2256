/**
 * The implementations of the built-in steps (`core/steps/builtin.ts`): thin adapters from a step's input values to
 * the demo pipeline's functions in `activities/data.ts` and `activities/training.ts`, and from their results to
 * output ports. The logic stays in those functions; this file only checks and converts values.
 */
import { isAbsolute, resolve } from 'node:path';

import type { JsonValue, StepDescriptor } from '../../core/spec';
import { BUILTIN_STEPS } from '../../core/steps/builtin';
import { MloeError } from '../../core/errors';
import { parseArtifactRef, type ArtifactRef } from '../artifacts';
import { fileDigest, sourceDigest } from '../cache/digests';
import { featurizeInto, ingestInto, validateInto } from '../data';
import { evaluateInto, trainInto } from '../training';
import { DATA_STEP_IMPLEMENTATIONS } from '../ml/data/steps';
import { registerModel } from './register';
import { MODEL_STEP_IMPLEMENTATIONS } from '../ml/steps';
import type { StepImplementation } from './registry';

type Inputs = Readonly<Record<string, JsonValue>>;

function builtinDescriptor(name: string): StepDescriptor {
  const descriptor = BUILTIN_STEPS.find((step) => step.name === name);
  if (descriptor === undefined) throw new MloeError('INTERNAL', `no built-in step descriptor named ${name}`);
  return descriptor;
}

function inputError(name: string, expected: string, value: unknown): MloeError {
  return new MloeError('CONFIG_INVALID', `input ${name}: expected ${expected}, got ${JSON.stringify(value)}`);
}

function artifactInput(inputs: Inputs, name: string): ArtifactRef {
  return parseArtifactRef(inputs[name]);
}

function stringInput(inputs: Inputs, name: string): string {
  const value = inputs[name];
  if (typeof value !== 'string') throw inputError(name, 'a string', value);
  return value;
}

function numberInput(inputs: Inputs, name: string): number {
  const value = inputs[name];
  if (typeof value !== 'number') throw inputError(name, 'a number', value);
  return value;
}

function stringListInput(inputs: Inputs, name: string): string[] {
  const value = inputs[name];
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw inputError(name, 'a list of strings', value);
  }
  return value;
}

/** The `dataPath` input, resolved against the working directory when relative. */
function dataPathInput(inputs: Inputs, workingDir: string): string {
  const dataPath = stringInput(inputs, 'dataPath');
  return isAbsolute(dataPath) ? dataPath : resolve(workingDir, dataPath);
}

/**
 * The code hash of the built-in steps: their adapters and the modules doing the work. A change to any of them
 * invalidates cached results of every built-in step.
 */
const BUILTIN_CODE_HASH = sourceDigest([
  __filename,
  require.resolve('../data'),
  require.resolve('../training'),
  require.resolve('../linear-model'),
  require.resolve('../table'),
]);

/** The code hash of `register@1`: its module and the model package writer. */
const REGISTER_CODE_HASH = sourceDigest([require.resolve('./register'), require.resolve('./model-package')]);

/** The demo steps: ingest, validate, featurize, train, evaluate, and register (the model registry). */
export const BUILTIN_IMPLEMENTATIONS: readonly StepImplementation[] = (
  [
    {
      descriptor: builtinDescriptor('ingest'),
      async run(inputs, context) {
        const result = await ingestInto(context.store, { dataPath: dataPathInput(inputs, context.workingDir) });
        return { outputs: { dataset: result.dataset } };
      },
      // The file's bytes, not its path, decide whether an earlier result can be reused.
      async cacheInputs(inputs, context) {
        return { dataPath: await fileDigest(dataPathInput(inputs, context.workingDir)) };
      },
    },
    {
      descriptor: builtinDescriptor('validate'),
      async run(inputs, context) {
        const dataset = artifactInput(inputs, 'dataset');
        const result = await validateInto(context.store, {
          dataset,
          columns: stringListInput(inputs, 'columns'),
          label: inputs.label === undefined ? dataset.uri : stringInput(inputs, 'label'),
        });
        return { outputs: { dataset: result.dataset, report: result.report, rows: result.rows } };
      },
    },
    {
      descriptor: builtinDescriptor('featurize'),
      async run(inputs, context) {
        const result = await featurizeInto(context.store, {
          dataset: artifactInput(inputs, 'dataset'),
          features: stringListInput(inputs, 'features'),
          target: stringInput(inputs, 'target'),
          testFraction: numberInput(inputs, 'testFraction'),
        });
        return {
          outputs: {
            train: result.train,
            test: result.test,
            scaler: result.scaler,
            trainRows: result.trainRows,
            testRows: result.testRows,
          },
        };
      },
    },
    {
      descriptor: builtinDescriptor('train'),
      async run(inputs, context) {
        const result = await trainInto(context.store, {
          train: artifactInput(inputs, 'train'),
          scaler: artifactInput(inputs, 'scaler'),
        });
        return {
          outputs: { model: result.model, intercept: result.intercept, coefficients: result.coefficients },
        };
      },
    },
    {
      descriptor: builtinDescriptor('evaluate'),
      async run(inputs, context) {
        const result = await evaluateInto(context.store, {
          model: artifactInput(inputs, 'model'),
          test: artifactInput(inputs, 'test'),
        });
        return {
          outputs: { metrics: result.metrics },
          metrics: { rmse: result.rmse, r2: result.r2, testRows: result.testRows },
        };
      },
    },
  ] satisfies StepImplementation[]
)
  .map((implementation): StepImplementation => ({ ...implementation, codeHash: BUILTIN_CODE_HASH }))
  .concat([
    {
      descriptor: builtinDescriptor('register'),
      run: (inputs, context) => registerModel(inputs, context),
      codeHash: REGISTER_CODE_HASH,
      cacheable: false,
    },
  ])
  .concat(MODEL_STEP_IMPLEMENTATIONS)
  // ingest@2, validate@2, split@1 (activities/ml/data).
  .concat(DATA_STEP_IMPLEMENTATIONS);
