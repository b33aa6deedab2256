/**
 * The model layer without a registry: the fitters on generated data with known answers (softmax on separable classes,
 * ridge against its closed form, a forest on nonlinear problems), determinism, the features transform applied in SQL
 * by `features@1` and in JavaScript by `transformRow` (bit for bit the same), bad data, and penguins through
 * features@1 → train@2 → evaluate@2 (held-out accuracy ≥ 0.95 with the softmax and the forest).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Matrix, inverse } from 'ml-matrix';

import { FileArtifactStore, getJson, parseArtifactRef, type ArtifactStore } from '../activities/artifacts';
import { featuresTransformSchema, transformRows, type FeaturesTransform } from '../activities/ml/features/transform';
import { compileModel, predictRecords, type ModelDocument } from '../activities/ml/models/model';
import { seededRandom } from '../activities/ml/models/random';
import { trainModel, type TrainRequest } from '../activities/ml/models/train';
import { rocAuc } from '../activities/ml/models/metrics';
import { runEvaluate } from '../activities/ml/steps/evaluate-step';
import { runFeatures } from '../activities/ml/steps/features-step';
import { runTrain } from '../activities/ml/steps/train-step';
import { MloeError } from '../core/errors';
import type { JsonValue } from '../core/spec';
import { duck, penguinFiles, putDataset, readParquetRows, stepContext, writeRowsParquet } from './support/ml-fixtures';
import { suiteTemporaryDirectories } from './temporary-directories';

const temporaryDirectory = suiteTemporaryDirectories('mloe-ml-models-test-');

/** A transform that passes numeric columns through unchanged. */
function identity(columns: string[], label: string): FeaturesTransform {
  return featuresTransformSchema.parse({
    format: 'mloe.features',
    version: 1,
    label,
    columns: columns.map((name) => ({ name, kind: 'numeric', outputs: [name] })),
    outputs: columns,
    fittedRows: 1,
  });
}

/** Generated rows: `x0 … x{d-1}` uniform in [-1, 1] from `seed`, and a label from `label(x)`. */
function generate(rows: number, width: number, seed: number, label: (x: number[]) => unknown) {
  const random = seededRandom(seed);
  const data = new Float64Array(rows * width);
  const labels: unknown[] = [];
  const records: Record<string, unknown>[] = [];
  for (let i = 0; i < rows; i += 1) {
    const x = Array.from({ length: width }, () => random.next() * 2 - 1);
    data.set(x, i * width);
    labels.push(label(x));
    records.push(Object.fromEntries(x.map((value, j) => [`x${j}`, value])));
  }
  return { data, labels, records, columns: Array.from({ length: width }, (_, j) => `x${j}`) };
}

function request(
  set: ReturnType<typeof generate>,
  algorithm: TrainRequest['algorithm'],
  extra: Partial<TrainRequest> = {},
): TrainRequest {
  return {
    algorithm,
    label: 'y',
    labelType: typeof set.labels[0] === 'string' ? 'VARCHAR' : 'DOUBLE',
    transform: identity(set.columns, 'y'),
    data: set.data,
    rows: set.labels.length,
    labels: set.labels,
    hyperparameters: {},
    seed: 1,
    ...extra,
  };
}

function accuracy(document: ModelDocument, set: ReturnType<typeof generate>): number {
  const { predictions } = predictRecords(compileModel(document), set.records);
  return predictions.filter((value, i) => value === set.labels[i]).length / set.labels.length;
}

/** Three classes by the nearest of three centres: a Voronoi partition, which linear scores separate exactly. */
const CENTRES = [
  [0.5, 0.5],
  [-0.5, 0.3],
  [0, -0.6],
];
const separable = (x: number[]) => {
  const scores = CENTRES.map(([a = 0, b = 0]) => a * (x[0] ?? 0) + b * (x[1] ?? 0) - (a * a + b * b) / 2);
  return ['a', 'b', 'c'][scores.indexOf(Math.max(...scores))];
};
/** Inside or outside a circle: not linearly separable. */
const circle = (x: number[]) => ((x[0] ?? 0) ** 2 + (x[1] ?? 0) ** 2 < 0.5 ? 'in' : 'out');

describe('softmax regression', () => {
  it('separates linearly separable classes, held out too, and is deterministic', () => {
    const train = generate(600, 2, 1, separable);
    const test = generate(300, 2, 2, separable);
    const fitted = trainModel(request(train, 'softmax-regression', { hyperparameters: { l2: 1e-5 } }));
    expect(fitted.document.training.accuracy).toBeGreaterThanOrEqual(0.99);
    expect(accuracy(fitted.document, test)).toBeGreaterThanOrEqual(0.97);
    const losses = fitted.metrics.trainLoss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] ?? 0); // the loss falls from log(3)
    const again = trainModel(request(train, 'softmax-regression', { hyperparameters: { l2: 1e-5 } }));
    expect(JSON.stringify(again.document)).toBe(JSON.stringify(fitted.document));
  });
});

describe('ridge regression', () => {
  it('recovers a known linear function with alpha 0, and matches the closed form with alpha 2', () => {
    const exact = generate(200, 3, 3, (x) => 3 + 2 * (x[0] ?? 0) - 1.5 * (x[1] ?? 0) + 0.25 * (x[2] ?? 0));
    const ols = trainModel({ ...request(exact, 'ridge-regression'), hyperparameters: { alpha: 0 } }).document;
    if (ols.algorithm !== 'ridge-regression') throw new Error('not ridge');
    expect(ols.parameters.intercept).toBeCloseTo(3, 9);
    ols.parameters.coefficients.forEach((value, j) => expect(value).toBeCloseTo([2, -1.5, 0.25][j] ?? 0, 9));

    const random = seededRandom(4);
    const noisy = generate(150, 3, 5, (x) => 1 + (x[0] ?? 0) - (x[2] ?? 0) + random.next() - 0.5);
    const ridge = trainModel({ ...request(noisy, 'ridge-regression'), hyperparameters: { alpha: 2 } }).document;
    if (ridge.algorithm !== 'ridge-regression') throw new Error('not ridge');
    // Closed form on centred data: w = (XcᵀXc + αI)⁻¹ Xcᵀ yc, b = ȳ − x̄·w.
    const X = new Matrix(Array.from({ length: 150 }, (_, i) => Array.from(noisy.data.subarray(i * 3, i * 3 + 3))));
    const y = Matrix.columnVector(noisy.labels as number[]);
    const means = X.mean('column');
    const yMean = y.mean();
    const Xc = X.clone().subRowVector(means);
    const w = inverse(Xc.transpose().mmul(Xc).add(Matrix.eye(3).mul(2)))
      .mmul(Xc.transpose())
      .mmul(y.clone().sub(yMean));
    ridge.parameters.coefficients.forEach((value, j) => expect(value).toBeCloseTo(w.get(j, 0), 9));
    expect(ridge.parameters.intercept).toBeCloseTo(yMean - means.reduce((sum, m, j) => sum + m * w.get(j, 0), 0), 9);
  });

  it('refuses collinear features without a penalty, naming them', () => {
    const set = generate(50, 2, 6, (x) => x[0]);
    const data = Float64Array.from(set.data);
    for (let i = 0; i < 50; i += 1) data[i * 2 + 1] = 2 * (data[i * 2] ?? 0);
    expect(() => trainModel({ ...request(set, 'ridge-regression'), data, hyperparameters: { alpha: 0 } })).toThrow(
      /x0, x1\) are collinear/,
    );
  });
});

describe('random forest', () => {
  it('classifies a nonlinear problem the softmax cannot, and is deterministic per seed', () => {
    const train = generate(2000, 2, 7, circle);
    const test = generate(500, 2, 8, circle);
    const forest = trainModel(request(train, 'random-forest', { hyperparameters: { trees: 30 } }));
    expect(accuracy(forest.document, test)).toBeGreaterThanOrEqual(0.93);
    const linear = trainModel(request(train, 'softmax-regression'));
    expect(accuracy(linear.document, test)).toBeLessThan(0.8);
    const again = trainModel(request(train, 'random-forest', { hyperparameters: { trees: 30 } }));
    expect(JSON.stringify(again.document)).toBe(JSON.stringify(forest.document));
    const other = trainModel(request(train, 'random-forest', { hyperparameters: { trees: 30 }, seed: 2 }));
    expect(JSON.stringify(other.document)).not.toBe(JSON.stringify(forest.document));
  });

  it('fits a nonlinear regression', () => {
    const f = (x: number[]) => 3 * Math.sin(3 * (x[0] ?? 0)) + (x[1] ?? 0) ** 2;
    const train = generate(3000, 3, 9, f);
    const test = generate(500, 3, 10, f);
    const forest = trainModel(request(train, 'random-forest', { hyperparameters: { trees: 40, maxDepth: 12 } }));
    expect(forest.document.task).toBe('regression');
    const predicted = predictRecords(compileModel(forest.document), test.records).predictions as number[];
    const actual = test.labels as number[];
    const mean = actual.reduce((a, b) => a + b, 0) / actual.length;
    const sse = actual.reduce((sum, value, i) => sum + (value - (predicted[i] ?? 0)) ** 2, 0);
    const sst = actual.reduce((sum, value) => sum + (value - mean) ** 2, 0);
    expect(1 - sse / sst).toBeGreaterThanOrEqual(0.9);
  });
});

describe('bad labels', () => {
  it('a label with one class is refused, naming the column', () => {
    const set = generate(20, 2, 11, () => 'only');
    for (const algorithm of ['softmax-regression', 'random-forest'] as const) {
      expect(() => trainModel(request(set, algorithm))).toThrow(/label column y has one class only \("only"\)/);
    }
  });
});

describe('bad hyperparameters', () => {
  it('are refused, naming the key and listing the valid ones', () => {
    const set = generate(20, 2, 12, separable);
    expect(() => trainModel({ ...request(set, 'softmax-regression'), hyperparameters: { trees: 5 } })).toThrow(
      'train@2 (softmax-regression): hyperparameters: Unrecognized key: "trees" (its hyperparameters: l2, maxIterations, tolerance)',
    );
    expect(() => trainModel({ ...request(set, 'random-forest'), hyperparameters: { maxDepth: 0 } })).toThrow(
      /hyperparameters\.maxDepth: Too small/,
    );
  });
});

describe('ROC AUC', () => {
  it('is the share of correctly ordered positive-negative pairs, ties counting half', () => {
    expect(rocAuc(Float64Array.from([0.1, 0.4, 0.35, 0.8]), Uint8Array.from([0, 0, 1, 1]))).toBeCloseTo(0.75, 12);
    expect(rocAuc(Float64Array.from([0.5, 0.5]), Uint8Array.from([0, 1]))).toBeCloseTo(0.5, 12);
    expect(rocAuc(Float64Array.from([0.5]), Uint8Array.from([1]))).toBeUndefined();
  });
});

/** Raw rows with missing values of every kind, integers, booleans and categories. */
function rawRows(count: number, seed: number): Record<string, unknown>[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => ({
    a: i % 7 === 0 ? null : Math.round((random.next() * 100 - 30) * 1000) / 1000 + 0.1,
    b: i % 5 === 0 ? null : Math.floor(random.next() * 1000),
    c: i % 11 === 0 ? null : ['red', 'green', 'blue', "o'neil"][random.int(4)],
    d: random.next() < 0.5,
    e: i % 9 === 0 ? null : random.next() * 1e-3,
    y: random.next() < 0.5 ? 'yes' : 'no',
  }));
}

describe('features@1', () => {
  let store: ArtifactStore;
  let directory: string;

  beforeAll(async () => {
    directory = await temporaryDirectory();
    store = new FileArtifactStore({ root: join(directory, 'store') });
  });

  async function features(inputs: Record<string, JsonValue>) {
    return runFeatures(inputs, stepContext(store, directory));
  }

  it('applies the transform in SQL exactly as transformRow does in JavaScript, on the train and the test split', async () => {
    const trainPath = join(directory, 'raw-train.parquet');
    const testPath = join(directory, 'raw-test.parquet');
    const trainRaw = rawRows(400, 12);
    const testRaw = [...rawRows(100, 13), { a: 1.5, b: 2, c: 'purple', d: true, e: Number.NaN, y: 'no' }];
    await writeRowsParquet(trainPath, trainRaw);
    await writeRowsParquet(testPath, testRaw);
    const result = await features({
      train: await putDataset(store, trainPath),
      test: await putDataset(store, testPath),
      label: 'y',
      categorical: ['c', 'd'],
      impute: 'mean',
      imputeCategorical: 'most_frequent',
      columns: { b: { impute: 'median', scale: 'minmax' }, e: { impute: 'constant', fillValue: -1 } },
    });
    const transform = await getJson(
      store,
      parseArtifactRef(result.outputs.transform),
      featuresTransformSchema,
      'transform',
    );
    expect(transform.outputs).toEqual(['a', 'b', 'e', 'c=blue', 'c=green', "c=o'neil", 'c=red', 'd=false', 'd=true']);
    expect(transform.columns.find((column) => column.name === 'b')).toMatchObject({
      impute: { strategy: 'median' },
      scale: { method: 'minmax' },
    });
    for (const [port, raw] of [
      ['train', await readParquetRows(trainPath)],
      ['test', await readParquetRows(testPath)],
    ] as const) {
      const file = fileURLToPath(parseArtifactRef(result.outputs[port]).uri);
      const produced = await readParquetRows(file);
      const expected = transformRows(transform, raw);
      expect(produced).toHaveLength(raw.length);
      produced.forEach((row, i) => {
        transform.outputs.forEach((name, j) => {
          // Bit for bit: Object.is tells 0 from -0 and compares NaN.
          if (!Object.is(row[name], expected[i * transform.outputs.length + j])) {
            throw new Error(
              `${port} row ${i} ${name}: SQL ${String(row[name])}, JS ${String(expected[i * transform.outputs.length + j])}`,
            );
          }
        });
        expect(row.y).toBe(raw[i]?.y);
      });
    }
    // The unknown category of the last test row is all zeros; its NaN took the constant.
    const lastTest = (await readParquetRows(fileURLToPath(parseArtifactRef(result.outputs.test).uri))).at(-1);
    expect(lastTest).toMatchObject({ 'c=blue': 0, 'c=green': 0, "c=o'neil": 0, 'c=red': 0 });
    expect(result.outputs.trainRows).toBe(400);
    expect(result.outputs.testRows).toBe(101);
  });

  it('refuses missing values without imputation, empty data and unknown categories under error, naming the column', async () => {
    const path = join(directory, 'nan.parquet');
    await writeRowsParquet(path, rawRows(50, 14));
    const train = await putDataset(store, path);
    await expect(features({ train, label: 'y', categorical: ['c', 'd'] })).rejects.toThrow(
      /column a: 8 of 50 training rows are missing \(null or NaN\)/,
    );
    const emptyPath = join(directory, 'empty.parquet');
    await writeRowsParquet(emptyPath, [{ a: 1, y: 'x' }]);
    await duck(`COPY (SELECT * FROM read_parquet('${emptyPath}') WHERE false) TO '${emptyPath}.0' (FORMAT parquet)`);
    await expect(features({ train: await putDataset(store, `${emptyPath}.0`), label: 'y' })).rejects.toThrow(
      /the training split is empty/,
    );
    const testPath = join(directory, 'unknown.parquet');
    await writeRowsParquet(testPath, [{ a: 1, b: 1, c: 'purple', d: true, e: 1, y: 'no' }]);
    const failure = await features({
      train,
      test: await putDataset(store, testPath),
      label: 'y',
      categorical: ['c', 'd'],
      impute: 'mean',
      imputeCategorical: 'most_frequent',
      handleUnknown: 'error',
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MloeError);
    expect((failure as MloeError).code).toBe('DATA_INVALID');
    expect((failure as MloeError).message).toMatch(
      /the test split: column c has categories not seen in training: "purple"/,
    );
    await expect(features({ train, label: 'nope' })).rejects.toThrow(/no label column nope; its columns: a \(DOUBLE\)/);
  });
});

describe('penguins: features@1 → train@2 → evaluate@2', () => {
  it('reaches held-out accuracy ≥ 0.95 with the softmax and the forest', async () => {
    const directory = await temporaryDirectory();
    const store = new FileArtifactStore({ root: join(directory, 'store') });
    const context = stepContext(store, directory);
    const files = await penguinFiles(directory);
    const test = await putDataset(store, files.test);
    const features = await runFeatures(
      { train: await putDataset(store, files.train), test, label: 'Species', categorical: ['Island', 'Sex'] },
      context,
    );
    for (const algorithm of ['softmax-regression', 'random-forest']) {
      const trained = await runTrain(
        { train: features.outputs.train ?? null, transform: features.outputs.transform ?? null, algorithm, seed: 3 },
        context,
      );
      expect(trained.outputs.classes).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
      expect(trained.metrics?.accuracy).toBeGreaterThanOrEqual(0.95);
      const evaluated = await runEvaluate({ model: trained.outputs.model ?? null, test }, context);
      expect(evaluated.metrics?.accuracy).toBeGreaterThanOrEqual(0.95);
      expect(evaluated.metrics?.macroF1).toBeGreaterThanOrEqual(0.93);
      expect(evaluated.metrics?.rocAuc).toBeGreaterThanOrEqual(0.98);
      expect(evaluated.outputs.champion).toEqual({ status: 'none', reason: 'no champion given' });
      expect(evaluated.outputs.beatsChampion).toBe(true);
      const report = JSON.parse(
        await readFile(fileURLToPath(parseArtifactRef(evaluated.outputs.report).uri), 'utf8'),
      ) as {
        candidate: { confusion: { matrix: number[][] }; perClass: { class: string; support: number }[] };
      };
      const total = report.candidate.confusion.matrix.flat().reduce((a, b) => a + b, 0);
      expect(total).toBe(files.testRows.length);
      expect(report.candidate.perClass.map((entry) => entry.class)).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    }
    // The transformed test split is refused: the model applies its own transform.
    await expect(
      runEvaluate(
        {
          model:
            (
              await runTrain(
                {
                  train: features.outputs.train ?? null,
                  transform: features.outputs.transform ?? null,
                  algorithm: 'softmax',
                },
                context,
              )
            ).outputs.model ?? null,
          test: features.outputs.test ?? null,
        },
        context,
      ),
    ).rejects.toThrow(/already transformed by features@1/);
  });
});
