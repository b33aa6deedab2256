/**
 * The hyperparameters of each algorithm `train@2` fits, with their defaults (zod), and the names `algorithm:` accepts.
 */
import { z } from 'zod';

import type { Algorithm } from './model';

/** `algorithm:` values and the algorithm each names. */
export const ALGORITHM_ALIASES: Readonly<Record<string, Algorithm>> = {
  'softmax-regression': 'softmax-regression',
  softmax: 'softmax-regression',
  'logistic-regression': 'softmax-regression',
  'random-forest': 'random-forest',
  forest: 'random-forest',
  'ridge-regression': 'ridge-regression',
  ridge: 'ridge-regression',
  linear: 'ridge-regression',
};

/** Softmax regression: L2 penalty on the mean loss, L-BFGS iterations and gradient tolerance. */
export const softmaxHyperparameters = z.strictObject({
  l2: z.number().nonnegative().default(1e-3),
  maxIterations: z.number().int().positive().max(100_000).default(500),
  tolerance: z.number().positive().default(1e-6),
});

/** Random forest: trees, depth, leaf size, features per split, bins, bootstrap fraction. */
export const forestHyperparameters = z.strictObject({
  trees: z.number().int().positive().max(2000).default(100),
  maxDepth: z.number().int().positive().max(40).default(10),
  minSamplesLeaf: z.number().int().positive().default(1),
  maxFeatures: z.union([z.enum(['sqrt', 'log2', 'third', 'all']), z.number().positive().max(1)]).optional(),
  maxBins: z.number().int().min(2).max(65535).default(255),
  sampleFraction: z.number().positive().max(1).default(1),
});

/** Ridge regression: the L2 penalty (0: ordinary least squares). */
export const ridgeHyperparameters = z.strictObject({
  alpha: z.number().nonnegative().default(1),
});
