/**
 * A random forest for classification (Gini) and regression (variance), with histogram splits: every feature is cut
 * once into at most `maxBins` bins (midpoints between distinct values, or quantiles when there are more), and a node
 * finds its best split by one pass over its rows per candidate feature plus one over the bins. Training is
 * O(rows × depth × features tried) per tree, where `ml-random-forest` grows about quadratically with rows
 * (/work/shared/ml-notes.md). Bootstrap samples and feature subsets come from a seeded generator: same seed, same
 * forest.
 *
 * A tree is flat arrays: `feature[n] >= 0` splits node `n` on `x[feature] <= threshold[n]` into `left[n]` and
 * `right[n]`; `feature[n] = -1` is a leaf whose value starts at `left[n]` in `values` (class counts for
 * classification, one mean for regression).
 */
import { seededRandom, type Random } from './random';

/** Hyperparameters of the forest. */
export interface ForestParams {
  trees: number;
  maxDepth: number;
  minSamplesLeaf: number;
  /** Features tried per split: `sqrt`, `log2`, `third` (a third), `all`, or a fraction in (0, 1]. */
  maxFeatures: 'sqrt' | 'log2' | 'third' | 'all' | number;
  maxBins: number;
  /** Rows drawn (with replacement) per tree, as a fraction of the training rows. */
  sampleFraction: number;
  seed: number;
}

/** One fitted tree. */
export interface ForestTree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  values: number[];
}

/** The task: class indices with `classes` classes, or real targets. */
export type ForestTarget =
  { kind: 'classification'; labels: Int32Array; classes: number } | { kind: 'regression'; y: Float64Array };

/** Cut points of one feature: `x <= edges[b]` is bin `b` or lower. */
function binEdges(values: Float64Array, maxBins: number): Float64Array {
  const sorted = Float64Array.from(values).sort();
  const distinct: number[] = [];
  for (const value of sorted)
    if (distinct.length === 0 || value !== distinct[distinct.length - 1]) distinct.push(value);
  if (distinct.length <= maxBins) {
    const edges = new Float64Array(Math.max(0, distinct.length - 1));
    for (let b = 0; b < edges.length; b += 1) edges[b] = ((distinct[b] ?? 0) + (distinct[b + 1] ?? 0)) / 2;
    return edges;
  }
  const edges: number[] = [];
  for (let b = 1; b < maxBins; b += 1) {
    const value = sorted[Math.floor((b * sorted.length) / maxBins)] ?? 0;
    if (edges.length === 0 || value > (edges[edges.length - 1] ?? 0)) edges.push(value);
  }
  return Float64Array.from(edges);
}

/** The bin of `x`: the first edge at or above it. */
function binOf(edges: Float64Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many features a split tries. */
export function featuresPerSplit(maxFeatures: ForestParams['maxFeatures'], width: number): number {
  if (maxFeatures === 'all') return width;
  if (maxFeatures === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(width)));
  if (maxFeatures === 'log2') return Math.max(1, Math.floor(Math.log2(width)));
  if (maxFeatures === 'third') return Math.max(1, Math.floor(width / 3));
  return Math.max(1, Math.min(width, Math.floor(maxFeatures * width)));
}

/** Fits a forest on a row-major `rows` × `width` matrix. */
export function fitForest(
  data: Float64Array,
  rows: number,
  width: number,
  target: ForestTarget,
  params: ForestParams,
): ForestTree[] {
  const edges: Float64Array[] = [];
  const bins = new Uint16Array(rows * width); // column-major: bins[f * rows + i]
  const column = new Float64Array(rows);
  for (let f = 0; f < width; f += 1) {
    for (let i = 0; i < rows; i += 1) column[i] = data[i * width + f] ?? 0;
    const featureEdges = binEdges(column, params.maxBins);
    edges.push(featureEdges);
    for (let i = 0; i < rows; i += 1) bins[f * rows + i] = binOf(featureEdges, column[i] ?? 0);
  }
  const random = seededRandom(params.seed);
  const tried = featuresPerSplit(params.maxFeatures, width);
  const sampleSize = Math.max(1, Math.round(params.sampleFraction * rows));
  const trees: ForestTree[] = [];
  for (let t = 0; t < params.trees; t += 1) {
    const sample = new Uint32Array(sampleSize);
    for (let i = 0; i < sampleSize; i += 1) sample[i] = random.int(rows);
    sample.sort(); // ascending row order: nodes read the columns front to back (stable partitions keep it)
    trees.push(growTree(sample, bins, edges, rows, width, target, params, tried, random));
  }
  return trees;
}

function growTree(
  sample: Uint32Array,
  bins: Uint16Array,
  edges: Float64Array[],
  rows: number,
  width: number,
  target: ForestTarget,
  params: ForestParams,
  tried: number,
  random: Random,
): ForestTree {
  const tree: ForestTree = { feature: [], threshold: [], left: [], right: [], values: [] };
  const classes = target.kind === 'classification' ? target.classes : 0;
  const slots = target.kind === 'classification' ? classes : 2; // per bin: class counts, or (sum, count)
  const maxBinCount = edges.reduce((most, featureEdges) => Math.max(most, featureEdges.length + 1), 1);
  const histogram = new Float64Array(maxBinCount * slots);
  const scratch = new Uint32Array(sample.length);
  const order = Int32Array.from({ length: width }, (_, f) => f);
  const totals = new Float64Array(Math.max(classes, 2));
  const leftTotals = new Float64Array(Math.max(classes, 2));
  const stack: { node: number; start: number; end: number; depth: number }[] = [];
  const newNode = (): number => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(0);
    tree.right.push(0);
    return tree.feature.length - 1;
  };
  stack.push({ node: newNode(), start: 0, end: sample.length, depth: 0 });
  while (stack.length > 0) {
    const { node, start, end, depth } = stack.pop() as { node: number; start: number; end: number; depth: number };
    const count = end - start;
    // Node totals: class counts, or sum and sum of squares.
    totals.fill(0);
    for (let s = start; s < end; s += 1) {
      const i = sample[s] ?? 0;
      if (target.kind === 'classification') totals[target.labels[i] ?? 0] = (totals[target.labels[i] ?? 0] ?? 0) + 1;
      else totals[0] = (totals[0] ?? 0) + (target.y[i] ?? 0);
    }
    let pure = false;
    if (target.kind === 'classification') {
      let nonEmpty = 0;
      for (let k = 0; k < classes; k += 1) if ((totals[k] ?? 0) > 0) nonEmpty += 1;
      pure = nonEmpty <= 1;
    }
    let bestFeature = -1;
    let bestBin = -1;
    if (!pure && depth < params.maxDepth && count >= 2 * params.minSamplesLeaf) {
      // The score of no split: a split must beat it.
      let parentScore: number;
      if (target.kind === 'classification') {
        let squares = 0;
        for (let k = 0; k < classes; k += 1) squares += (totals[k] ?? 0) * (totals[k] ?? 0);
        parentScore = squares / count;
      } else parentScore = ((totals[0] ?? 0) * (totals[0] ?? 0)) / count;
      let bestScore = parentScore + 1e-12 * Math.abs(parentScore);
      // A random subset of features: a partial Fisher-Yates shuffle.
      for (let a = 0; a < tried; a += 1) {
        const b = a + random.int(width - a);
        const swap = order[a] ?? 0;
        order[a] = order[b] ?? 0;
        order[b] = swap;
      }
      for (let a = 0; a < tried; a += 1) {
        const f = order[a] ?? 0;
        const binCount = (edges[f]?.length ?? 0) + 1;
        if (binCount < 2) continue;
        histogram.fill(0, 0, binCount * slots);
        const offset = f * rows;
        if (target.kind === 'classification') {
          for (let s = start; s < end; s += 1) {
            const i = sample[s] ?? 0;
            const at = (bins[offset + i] ?? 0) * slots + (target.labels[i] ?? 0);
            histogram[at] = (histogram[at] ?? 0) + 1;
          }
        } else {
          for (let s = start; s < end; s += 1) {
            const i = sample[s] ?? 0;
            const at = (bins[offset + i] ?? 0) * 2;
            histogram[at] = (histogram[at] ?? 0) + (target.y[i] ?? 0);
            histogram[at + 1] = (histogram[at + 1] ?? 0) + 1;
          }
        }
        leftTotals.fill(0);
        let leftCount = 0;
        for (let bin = 0; bin < binCount - 1; bin += 1) {
          if (target.kind === 'classification') {
            for (let k = 0; k < classes; k += 1) {
              const n = histogram[bin * slots + k] ?? 0;
              leftTotals[k] = (leftTotals[k] ?? 0) + n;
              leftCount += n;
            }
          } else {
            leftTotals[0] = (leftTotals[0] ?? 0) + (histogram[bin * 2] ?? 0);
            leftCount += histogram[bin * 2 + 1] ?? 0;
          }
          const rightCount = count - leftCount;
          if (leftCount < params.minSamplesLeaf) continue;
          if (rightCount < params.minSamplesLeaf) break;
          let score: number;
          if (target.kind === 'classification') {
            let leftSquares = 0;
            let rightSquares = 0;
            for (let k = 0; k < classes; k += 1) {
              const l = leftTotals[k] ?? 0;
              const r = (totals[k] ?? 0) - l;
              leftSquares += l * l;
              rightSquares += r * r;
            }
            score = leftSquares / leftCount + rightSquares / rightCount;
          } else {
            const l = leftTotals[0] ?? 0;
            const r = (totals[0] ?? 0) - l;
            score = (l * l) / leftCount + (r * r) / rightCount;
          }
          if (score > bestScore) {
            bestScore = score;
            bestFeature = f;
            bestBin = bin;
          }
        }
      }
    }
    if (bestFeature < 0) {
      tree.left[node] = tree.values.length;
      if (target.kind === 'classification') for (let k = 0; k < classes; k += 1) tree.values.push(totals[k] ?? 0);
      else tree.values.push((totals[0] ?? 0) / count);
      continue;
    }
    // Partition the node's rows, stably (each side stays in row order): bins <= bestBin first.
    const offset = bestFeature * rows;
    let middle = start;
    let moved = 0;
    for (let s = start; s < end; s += 1) {
      const i = sample[s] ?? 0;
      if ((bins[offset + i] ?? 0) <= bestBin) {
        sample[middle] = i;
        middle += 1;
      } else {
        scratch[moved] = i;
        moved += 1;
      }
    }
    sample.set(scratch.subarray(0, moved), middle);
    tree.feature[node] = bestFeature;
    tree.threshold[node] = edges[bestFeature]?.[bestBin] ?? 0;
    const left = newNode();
    const right = newNode();
    tree.left[node] = left;
    tree.right[node] = right;
    stack.push({ node: right, start: middle, end, depth: depth + 1 });
    stack.push({ node: left, start, end: middle, depth: depth + 1 });
  }
  return tree;
}

/** A tree as typed arrays, for prediction. */
export interface CompiledTree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  values: Float64Array;
}

/** Typed arrays of a fitted tree. */
export function compileTree(tree: ForestTree): CompiledTree {
  return {
    feature: Int32Array.from(tree.feature),
    threshold: Float64Array.from(tree.threshold),
    left: Int32Array.from(tree.left),
    right: Int32Array.from(tree.right),
    values: Float64Array.from(tree.values),
  };
}

/** Where row `row` of `data` ends in `tree`: the offset of its leaf's values. */
function leafOf(tree: CompiledTree, data: Float64Array, row: number): number {
  let node = 0;
  let feature = tree.feature[0] ?? -1;
  while (feature >= 0) {
    node = (data[row + feature] ?? 0) <= (tree.threshold[node] ?? 0) ? (tree.left[node] ?? 0) : (tree.right[node] ?? 0);
    feature = tree.feature[node] ?? -1;
  }
  return tree.left[node] ?? 0;
}

/** Class probabilities (row-major rows × classes): the mean of each tree's leaf class shares, as scikit-learn. */
export function forestProbabilities(
  trees: readonly CompiledTree[],
  classes: number,
  data: Float64Array,
  rows: number,
  width: number,
): Float64Array {
  const out = new Float64Array(rows * classes);
  for (let i = 0; i < rows; i += 1) {
    const at = i * classes;
    for (const tree of trees) {
      const leaf = leafOf(tree, data, i * width);
      let total = 0;
      for (let k = 0; k < classes; k += 1) total += tree.values[leaf + k] ?? 0;
      for (let k = 0; k < classes; k += 1) out[at + k] = (out[at + k] ?? 0) + (tree.values[leaf + k] ?? 0) / total;
    }
    for (let k = 0; k < classes; k += 1) out[at + k] = (out[at + k] ?? 0) / trees.length;
  }
  return out;
}

/** Regression predictions: the mean of the trees' leaf means. */
export function forestPredict(
  trees: readonly CompiledTree[],
  data: Float64Array,
  rows: number,
  width: number,
): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i += 1) {
    let sum = 0;
    for (const tree of trees) sum += tree.values[leafOf(tree, data, i * width)] ?? 0;
    out[i] = sum / trees.length;
  }
  return out;
}
