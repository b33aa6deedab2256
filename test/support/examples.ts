/**
 * Paths of the example pipelines the suites run: the housing-price regression (`pipelines/demo`, with its code-first
 * form) and the penguins loop of `mloe demo` (`pipelines/penguins`).
 */
import { join, resolve } from 'node:path';

const PIPELINES = resolve(__dirname, '..', '..', 'pipelines');

/** The housing-price pipeline's spec. */
export const HOUSING_SPEC = join(PIPELINES, 'demo', 'pipeline.yaml');

/** The CSV shipped with the housing-price pipeline. */
export const HOUSING_DATA = join(PIPELINES, 'demo', 'data', 'housing.csv');
