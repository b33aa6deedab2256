/**
 * The pipeline spec layer (`core/`): the corpus of broken specs (each with its expected errors in a `# expect:`
 * header), the valid specs and the demo pipeline, the code-first builder, CEL expressions, the DAG helpers, and
 * `mloe validate` run as a user runs it.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { specFiles } from '../clients/spec-files';
import { expr, pipeline } from '../core/builder';
import { MloeError } from '../core/errors';
import {
  checkCel,
  evaluateCel,
  evaluateCondition,
  evaluateTemplate,
  findReferences,
  parseCel,
  parseTemplate,
  resolveTemplates,
  type ExpressionBindings,
} from '../core/expressions';
import {
  SpecInvalidError,
  buildGraph,
  createStepRegistry,
  downstreamOf,
  executionLevels,
  findCycles,
  formatIssue,
  loadPipeline,
  loadPipelineOrThrow,
  loadPipelineTree,
  paramValueFromText,
  parseCpu,
  parseDuration,
  parseMemory,
  parseSpecText,
  readySteps,
  stepBindings,
  topologicalOrder,
  upstreamOf,
  validatePipeline,
  type PipelineSpec,
  type SpecIssue,
  type StepDescriptor,
  type ValidPipeline,
} from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { DATA_STEPS } from '../core/steps/data';
import { MODEL_STEPS } from '../core/steps/models';
import { DEMO_STEPS } from '../pipelines/demo/code-first';

const ROOT = resolve(__dirname, '..');
const SPECS = join(__dirname, 'fixtures', 'specs');
const DEMO_SPEC = join(ROOT, 'pipelines', 'demo', 'pipeline.yaml');
const registry = createStepRegistry(BUILTIN_STEPS);

/** Loads a spec file, with paths relative to the project root in messages. */
function loadFile(path: string, params?: Record<string, unknown>) {
  const file = path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
  return loadPipeline(readFileSync(path, 'utf8'), { file, registry, ...(params === undefined ? {} : { params }) });
}

/** Loads a spec file with the sub-pipelines it runs, as every entry point does. */
function loadFileTree(path: string) {
  const file = path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
  const text = readFileSync(path, 'utf8');
  return loadPipelineTree(
    { path: basename(path), text, file },
    { registry, files: specFiles(dirname(path), dirname(file)) },
  );
}

/** The issues of an invalid spec; fails the test when it is valid. */
function issuesOf(result: { ok: true } | { ok: false; issues: SpecIssue[] }): SpecIssue[] {
  if (result.ok) throw new Error('expected the spec to be invalid');
  return result.issues;
}

function valid(result: ReturnType<typeof loadPipeline>): ValidPipeline {
  if (!result.ok) throw new Error(`expected a valid spec, got:\n${result.issues.map(formatIssue).join('\n')}`);
  return result;
}

/** Loads YAML text, for short inline cases. */
function loadText(text: string, params?: Record<string, unknown>) {
  return loadPipeline(text, { file: 'inline.yaml', registry, ...(params === undefined ? {} : { params }) });
}

const HEADER = 'apiVersion: mloe.dev/v1\nkind: Pipeline\nmetadata:\n  name: inline\n';

describe('broken specs corpus', () => {
  const directory = join(SPECS, 'broken');
  const files = readdirSync(directory).filter((name) => name.endsWith('.yaml'));

  it('has a spec for every kind of problem', () => {
    const codes = new Set(
      files.flatMap((name) =>
        [...readFileSync(join(directory, name), 'utf8').matchAll(/^# expect: (\S+)/gm)].map((match) => match[1]),
      ),
    );
    for (const code of [
      'YAML_SYNTAX',
      'UNKNOWN_FIELD',
      'MISSING_FIELD',
      'CYCLE',
      'UNKNOWN_NEED',
      'UNKNOWN_STEP_TYPE',
      'UNKNOWN_STEP_VERSION',
      'UNKNOWN_OUTPUT',
      'NOT_UPSTREAM',
      'TYPE_MISMATCH',
      'INVALID_PARAM',
      'DUPLICATE_ID',
      'INVALID_DURATION',
      'EXPRESSION_SYNTAX',
      'EXPRESSION_TYPE',
      'UNKNOWN_VARIABLE',
      'PIPELINE_NOT_FOUND',
      'PIPELINE_PATH_INVALID',
      'PIPELINE_CYCLE',
      'PARAM_VALUE_INVALID',
      'INVALID_HEARTBEAT',
    ]) {
      expect(codes).toContain(code);
    }
  });

  it.each(files)('%s reports exactly the errors in its header, each with a hint', async (name) => {
    const path = join(directory, name);
    const expected = [...readFileSync(path, 'utf8').matchAll(/^# expect: (\S+) (\S+) (\d+):(\d+)$/gm)].map(
      ([, code, field, line, column]) => ({
        code,
        path: field === '<root>' ? '' : field,
        line: Number(line),
        column: Number(column),
      }),
    );
    expect(expected.length).toBeGreaterThan(0);
    const issues = issuesOf(await loadFileTree(path));
    expect(issues.map(({ code, path: field, line, column }) => ({ code, path: field, line, column }))).toEqual(
      expected,
    );
    for (const issue of issues) {
      expect(issue.file).toBe(`test/fixtures/specs/broken/${name}`);
      expect(issue.message.length).toBeGreaterThan(10);
      expect(issue.hint.length).toBeGreaterThan(5);
    }
  });
});

describe('valid specs', () => {
  const directory = join(SPECS, 'valid');
  it.each(readdirSync(directory))('%s is valid', (name) => {
    valid(loadFile(join(directory, name)));
  });

  it('reads JSON as well as YAML, with positions', () => {
    const result = valid(loadFile(join(directory, 'minimal.json')));
    expect(result.order).toEqual(['hello', 'again']);
    const broken = readFileSync(join(directory, 'minimal.json'), 'utf8').replace('"needs": ["hello"]', '"needs": [1]');
    const [issue] = issuesOf(loadText(broken));
    expect(issue).toMatchObject({ code: 'INVALID_TYPE', path: 'steps.again.needs[0]', line: 8, column: 26 });
  });

  it('every field of the full example survives validation unchanged', () => {
    const text = readFileSync(join(directory, 'full.yaml'), 'utf8');
    const parsed = parseSpecText(text);
    const result = valid(loadText(text));
    expect(result.spec).toEqual(parsed.value);
    expect(executionLevels(result.graph)).toEqual([['ingest'], ['train'], ['gate'], ['publish']]);
  });
});

describe('the demo pipeline spec', () => {
  it('validates, and has the steps of the demo workflow in the same order', () => {
    const result = valid(loadFile(DEMO_SPEC));
    // The spec also registers the model; the code-first workflow does not (pipelines/demo/README.md).
    expect(result.order).toEqual([...DEMO_STEPS, 'register']);
    expect(result.spec.steps.train?.uses).toBe('train@1');
  });

  it('checks supplied parameter values: types, ranges, unknown names', () => {
    const issues = issuesOf(loadFile(DEMO_SPEC, { testFraction: 0.9, features: 'sqft', nope: 1 }));
    // Values come from outside the file: no line, in the order they were given.
    expect(issues.map((issue) => [issue.code, issue.path, issue.line])).toEqual([
      ['PARAM_VALUE_INVALID', 'params.testFraction', undefined],
      ['PARAM_VALUE_INVALID', 'params.features', undefined],
      ['UNKNOWN_PARAM_VALUE', 'params.nope', undefined],
    ]);
    const result = valid(loadFile(DEMO_SPEC, { testFraction: 0.25 }));
    expect(result.params).toEqual({
      dataPath: 'pipelines/demo/data/housing.csv',
      features: ['sqft', 'bedrooms', 'age_years', 'distance_km'],
      target: 'price_k',
      testFraction: 0.25,
    });
  });
});

/** The demo pipeline written with the builder: must equal pipelines/demo/pipeline.yaml. */
function demoInCode() {
  const dataRetry = { maxAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' };
  const modelRetry = { ...dataRetry, maxAttempts: 2 };
  return pipeline('housing-price', {
    description: 'Fit a linear model of house prices and score it on a held-out split.',
  })
    .label('example', 'demo')
    .param('dataPath', {
      type: 'string',
      default: 'pipelines/demo/data/housing.csv',
      description: 'The CSV to learn from.',
    })
    .param('features', { type: 'list', items: 'string', default: ['sqft', 'bedrooms', 'age_years', 'distance_km'] })
    .param('target', { type: 'string', default: 'price_k' })
    .param('testFraction', {
      type: 'number',
      default: 0.2,
      minimum: 0.05,
      maximum: 0.5,
      description: 'Share of rows held out for evaluation.',
    })
    .defaults({ timeout: '30s', retry: dataRetry, cache: true })
    .step('ingest', (ctx) => ({ uses: 'ingest@1', with: { dataPath: ctx.param('dataPath') } }))
    .step('validate', (ctx) => ({
      uses: 'validate@1',
      needs: ['ingest'],
      with: {
        dataset: ctx.output('ingest', 'dataset'),
        columns: ctx.expr('params.features + [params.target]'),
        label: ctx.param('dataPath'),
      },
    }))
    .step('featurize', (ctx) => ({
      uses: 'featurize@1',
      needs: ['validate'],
      with: {
        dataset: ctx.output('validate', 'dataset'),
        features: ctx.param('features'),
        target: ctx.param('target'),
        testFraction: ctx.param('testFraction'),
      },
    }))
    .step('train', (ctx) => ({
      uses: 'train@1',
      needs: ['featurize'],
      timeout: '5m',
      retry: modelRetry,
      resources: { cpu: 1, memory: '512Mi' },
      with: { train: ctx.output('featurize', 'train'), scaler: ctx.output('featurize', 'scaler') },
    }))
    .step('evaluate', (ctx) => ({
      uses: 'evaluate@1',
      needs: ['train'],
      timeout: '5m',
      retry: modelRetry,
      with: { model: ctx.output('train', 'model'), test: ctx.output('featurize', 'test') },
    }))
    .step('register', (ctx) => ({
      uses: 'register@1',
      needs: ['evaluate'],
      when: ctx.expr('steps.evaluate.outputs.metrics.r2 > 0.8'),
      with: {
        model: ctx.output('train', 'model'),
        name: 'housing-price',
        alias: 'champion',
        description: 'Least-squares model of house prices (pipelines/demo).',
        fileName: 'model.json',
        signatureInputs: ctx.param('features'),
        signatureOutputs: ctx.expr('[params.target]'),
      },
    }));
}

describe('code-first builder', () => {
  it('builds the same spec as pipelines/demo/pipeline.yaml', () => {
    const fromYaml = valid(loadFile(DEMO_SPEC));
    const built = demoInCode().buildPipeline();
    expect(built.spec).toEqual(fromYaml.spec);
    expect(built.order).toEqual(fromYaml.order);
  });

  it('validates with the same rules and reports every problem', () => {
    const builder = pipeline('builder-errors')
      .param('lr', { type: 'number', default: 'fast' })
      .step('ingest', { uses: 'ingest@1', with: { dataPath: 'data.csv' } })
      .step('ingest', { uses: 'ingest@1', with: { dataPath: 'again.csv' } })
      .step('train', (ctx) => ({ uses: 'train@9', needs: ['ingest'], with: { lr: ctx.param('lr') } }));
    const result = builder.validate();
    expect(result.ok).toBe(false);
    expect(result.issues.map((issue) => [issue.code, issue.path])).toEqual([
      ['DUPLICATE_ID', 'steps.ingest'],
      ['INVALID_PARAM', 'params.lr.default'],
      ['UNKNOWN_STEP_VERSION', 'steps.train.uses'],
    ]);
    expect(result.issues[0]).not.toHaveProperty('line');
    let thrown: unknown;
    try {
      builder.build();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SpecInvalidError);
    expect(thrown).toMatchObject({ code: 'SPEC_INVALID', retryable: false });
    expect((thrown as SpecInvalidError).issues).toHaveLength(3);
  });

  it('is immutable: a builder can be extended in two ways', () => {
    const base = pipeline('branching').step('a', { run: { command: ['echo', 'a'] } });
    const one = base.step('b', { needs: ['a'], run: { command: ['echo', 'b'] } });
    const two = base.step('c', { needs: ['a'], run: { command: [expr('params.x'), 'c'] } }).param('x', {
      type: 'string',
      default: 'x',
    });
    expect(Object.keys(base.toSpec().steps)).toEqual(['a']);
    expect(Object.keys(one.build().steps)).toEqual(['a', 'b']);
    expect(two.build().steps.c?.run?.command).toEqual(['${{ params.x }}', 'c']);
  });

  it('checks step names at compile time', () => {
    const builder = pipeline('typed')
      .param('n', { type: 'integer', default: 1 })
      .step('a', { run: { command: ['a'] } });
    builder.step('b', {
      // @ts-expect-error 'z' is not a declared step
      needs: ['z'],
      run: { command: ['b'] },
    });
    builder.step('c', (ctx) => ({
      needs: ['a'],
      // @ts-expect-error 'm' is not a declared parameter
      run: { command: [ctx.param('m'), ctx.param('n'), ctx.output('a', 'x')] },
    }));
    expect(builder.toSpec().steps).toHaveProperty('a');
  });
});

/** Bindings with `params.x` an integer, `params.lr` a number and a metrics output of `train`. */
function sampleBindings(): ExpressionBindings {
  return {
    params: {
      type: { x: 'int', lr: 'double', folds: 'list<int>', name: 'string' },
      value: { x: 1, lr: 0.5, folds: [1, 2, 3], name: 'ols' },
    },
    steps: {
      type: { train: { outputs: { metrics: 'map<string, double>', model: 'mloe.Model' } } },
      value: {
        train: {
          outputs: {
            metrics: { accuracy: 0.93, loss: 0.2 },
            model: { uri: 'file:///m', digest: 'sha256:00', size: 12, type: 'model', metadata: {}, createdAt: '' },
          },
        },
      },
    },
  };
}

describe('expressions (CEL)', () => {
  it('evaluates ${{ params.x + 1 }} with integer arithmetic and keeps a whole template typed', () => {
    const bindings = sampleBindings();
    expect(evaluateTemplate('${{ params.x + 1 }}', bindings)).toBe(2);
    expect(evaluateTemplate('${{ params.lr * 2.0 }}', bindings)).toBe(1);
    expect(evaluateTemplate('${{ params.folds.map(f, f * 10) }}', bindings)).toEqual([10, 20, 30]);
    expect(evaluateTemplate('${{ steps.train.outputs.model }}', bindings)).toMatchObject({
      uri: 'file:///m',
      size: 12,
    });
    expect(evaluateTemplate('fold-${{ params.x }}-${{ params.name }}', bindings)).toBe('fold-1-ols');
    expect(evaluateTemplate('no template', bindings)).toBe('no template');
    expect(resolveTemplates({ a: ['${{ params.x }}', 'b'], c: '${{ "}}" }}' }, bindings)).toEqual({
      a: [1, 'b'],
      c: '}}',
    });
  });

  it('evaluates conditions on metrics, bare or in ${{ }}', () => {
    const bindings = sampleBindings();
    expect(evaluateCondition('steps.train.outputs.metrics.accuracy > 0.9', bindings)).toBe(true);
    expect(evaluateCondition('${{ steps.train.outputs.metrics.accuracy > 0.95 }}', bindings)).toBe(false);
    expect(evaluateCondition(true, bindings)).toBe(true);
    expect(() => evaluateCondition('params.x', bindings)).toThrow(/not true or false/);
  });

  it('is deterministic: the same inputs give the same result every time', () => {
    const source = '${{ params.folds.map(f, string(f) + params.name).join(",") + string(params.lr * 3.0) }}';
    const results = Array.from({ length: 50 }, () => evaluateTemplate(source, sampleBindings()));
    expect(new Set(results.map((value) => JSON.stringify(value))).size).toBe(1);
    expect(results[0]).toBe('1ols,2ols,3ols1.5');
  });

  it('never uses JavaScript eval or Function', () => {
    const library = join(ROOT, 'node_modules', '@marcbachmann', 'cel-js', 'lib');
    for (const file of readdirSync(library).filter((name) => name.endsWith('.js'))) {
      const source = readFileSync(join(library, file), 'utf8');
      expect(source).not.toMatch(/\bnew Function\s*\(|(?<![.\w])eval\s*\(/);
      expect(source).not.toMatch(/\brequire\(|from ['"]node:/);
    }
    const evalSpy = jest.spyOn(globalThis, 'eval');
    const originalFunction = globalThis.Function;
    globalThis.Function = new Proxy(originalFunction, {
      construct: () => {
        throw new Error('Function constructor used');
      },
      apply: () => {
        throw new Error('Function called');
      },
    });
    try {
      expect(evaluateTemplate('${{ params.x + 1 }}', sampleBindings())).toBe(2);
    } finally {
      globalThis.Function = originalFunction;
    }
    expect(evalSpy).not.toHaveBeenCalled();
    evalSpy.mockRestore();
  });

  it('reports run-time failures as EXPRESSION_FAILED', () => {
    const bindings = sampleBindings();
    for (const source of [
      '${{ 1 / 0 }}',
      '${{ steps.train.outputs.metrics.f1 }}',
      '${{ 1.0 / 0.0 }}',
      '${{ params.x +',
    ]) {
      let thrown: unknown;
      try {
        evaluateTemplate(source, bindings);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(MloeError);
      expect(thrown).toMatchObject({ code: 'EXPRESSION_FAILED' });
    }
    expect(() => evaluateCel('9223372036854775807', {})).toThrow(/JSON cannot hold/);
  });

  it('type-checks with positions, and names unknown variables', () => {
    const variables = { params: { lr: 'double', n: 'int' } };
    expect(checkCel('params.n + 1', variables)).toEqual({ ok: true, type: 'int' });
    expect(checkCel('params.lr > 0.5 && params.n < 3', variables)).toEqual({ ok: true, type: 'bool' });
    expect(checkCel('params.lr + 1', variables)).toMatchObject({ ok: false, problem: { kind: 'type', index: 0 } });
    expect(checkCel('params.lr >', variables)).toMatchObject({ ok: false, problem: { kind: 'syntax', index: 11 } });
    expect(checkCel('  seed * 2', variables)).toMatchObject({
      ok: false,
      problem: { kind: 'unknown-variable', index: 2 },
    });
  });

  it('finds the field paths an expression reads, skipping comprehension variables', () => {
    const parsed = parseCel(
      'steps.a.outputs["m"].x > 1 && params.p.exists(steps, steps > 0) && cel.bind(params, 1, params)',
    );
    if (!parsed.ok) throw new Error(parsed.problem.message);
    const references = findReferences(parsed.ast, new Set(['steps', 'params']));
    expect(references.map((r) => [r.root, ...r.fields.map((f) => f.name)])).toEqual([
      ['steps', 'a', 'outputs', 'm', 'x'],
      ['params', 'p'],
    ]);
    expect(references[0]?.fields[1]?.index).toBe(8);
  });

  it('splits templates, respecting quotes', () => {
    expect(parseTemplate('a ${{ "}}" }} b ${{ x }}')).toMatchObject({ ok: true, whole: false });
    expect(parseTemplate('${{ x }}')).toMatchObject({ ok: true, whole: true });
    expect(parseTemplate('x ${{ y')).toMatchObject({ ok: false, index: 2 });
    expect(parseTemplate('${{   }}')).toMatchObject({ ok: false, message: 'empty expression ${{ }}' });
  });

  it("binds a step's variables with their declared types, and only the steps it needs", () => {
    const { spec, graph } = valid(loadFile(DEMO_SPEC));
    const context = { spec, registry, graph };
    const outputs = {
      featurize: { trainRows: 320, testRows: 80 },
      train: { intercept: 40.5 },
      evaluate: { metrics: { r2: 0.97 } },
    };
    const bindings = stepBindings(context, 'train', 'with', { params: { testFraction: 0.2 }, outputs });
    expect(evaluateTemplate('${{ steps.featurize.outputs.trainRows + 1 }}', bindings)).toBe(321);
    expect(evaluateTemplate('${{ params.testFraction * 2.0 }}', bindings)).toBe(0.4);
    expect(() => evaluateTemplate('${{ steps.evaluate.outputs.metrics.r2 }}', bindings)).toThrow(/No such key/);
  });
});

describe('step graph', () => {
  const graph = buildGraph({
    ingest: {},
    a: { needs: ['ingest'] },
    b: { needs: ['ingest'] },
    join: { needs: ['b', 'a', 'a', 'missing'] },
    report: {},
  });

  it('orders steps after their needs, ties in declaration order', () => {
    expect(topologicalOrder(graph)).toEqual(['ingest', 'report', 'a', 'b', 'join']);
    expect(executionLevels(graph)).toEqual([['ingest', 'report'], ['a', 'b'], ['join']]);
  });

  it('computes transitive closures both ways', () => {
    expect([...upstreamOf(graph, 'join')].sort()).toEqual(['a', 'b', 'ingest']);
    expect([...downstreamOf(graph, 'ingest')].sort()).toEqual(['a', 'b', 'join']);
    expect(upstreamOf(graph, 'report').size).toBe(0);
  });

  it('lists the steps that are ready to start', () => {
    const none = new Set<string>();
    expect(readySteps(graph, none, none, none)).toEqual(['ingest', 'report']);
    expect(readySteps(graph, new Set(['ingest']), new Set(['report']), none)).toEqual(['a', 'b']);
    expect(readySteps(graph, new Set(['ingest', 'a']), new Set(['b']), none)).toEqual(['report']);
    expect(readySteps(graph, new Set(['ingest', 'a', 'report']), none, new Set(['b']))).toEqual(['join']);
    expect(readySteps(graph, new Set(['ingest']), none, none, new Set(['a', 'b', 'report']))).toEqual([]);
  });

  it('finds every cycle, as a path, and refuses to order a cyclic graph', () => {
    const cyclic = buildGraph({
      a: { needs: ['c'] },
      b: { needs: ['a'] },
      c: { needs: ['b'] },
      d: { needs: ['d'] },
      e: {},
    });
    expect(findCycles(cyclic)).toEqual([['a', 'c', 'b'], ['d']]);
    expect(() => topologicalOrder(cyclic)).toThrow(/cycle: a → c → b → a/);
    expect(findCycles(graph)).toEqual([]);
  });

  it('handles long chains without recursion limits', () => {
    const steps: Record<string, { needs?: string[] }> = { s0: {} };
    for (let i = 1; i < 20_000; i += 1) steps[`s${i}`] = { needs: [`s${i - 1}`] };
    const chain = buildGraph(steps);
    expect(findCycles(chain)).toEqual([]);
    expect(topologicalOrder(chain)[19_999]).toBe('s19999');
  });
});

describe('spec parsing and units', () => {
  it('places every field: values, keys, and characters inside strings', () => {
    const parsed = parseSpecText('a:\n  b: [1, "x${{ y }}"]\n  "c": 3\n');
    expect(parsed.sourceMap.locate(['a', 'b', 1])).toEqual({ line: 2, column: 10 });
    expect(parsed.sourceMap.locateInString(['a', 'b', 1], 2)).toEqual({ line: 2, column: 13 });
    expect(parsed.sourceMap.locate(['a', 'c'], 'key')).toEqual({ line: 3, column: 3 });
    expect(parsed.sourceMap.locate(['a', 'missing', 'deeper'])).toEqual({ line: 2, column: 3 });
  });

  it('reports empty files, several documents, duplicate keys and values JSON cannot hold', () => {
    expect(parseSpecText('').issues).toMatchObject([{ code: 'YAML_SYNTAX', message: 'the file holds no document' }]);
    expect(parseSpecText('a: 1\n---\nb: 2\n').issues).toMatchObject([{ code: 'YAML_SYNTAX', line: 2 }]);
    const parsed = parseSpecText('a: 1\nb: .inf\na: 2\n__proto__: { polluted: true }\n');
    expect(parsed.issues.map((issue) => [issue.code, issue.path, issue.line])).toEqual([
      ['INVALID_TYPE', 'b', 2],
      ['DUPLICATE_ID', 'a', 3],
    ]);
    expect(parsed.value).toMatchObject({ a: 1, b: null });
    expect(Object.getPrototypeOf(parsed.value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('formats an issue as file:line:col  path  message (hint)', () => {
    const [issue] = issuesOf(loadText(`${HEADER}steps:\n  train:\n    uses: train@1\n    wth: {}\n`));
    expect(formatIssue(issue as SpecIssue)).toBe(
      "inline.yaml:8:5  steps.train.wth  unknown field 'wth' in step 'train' (did you mean 'with'?)",
    );
  });

  it('parses Go durations and Kubernetes quantities', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('10us')).toBe(0.01);
    for (const bad of ['', '5', '5 minutes', '-1s', '0s', '1d', ' 1s', '1s2'])
      expect(parseDuration(bad)).toBeUndefined();
    expect(parseCpu('500m')).toBe(0.5);
    expect(parseCpu(2)).toBe(2);
    expect(parseCpu('two')).toBeUndefined();
    expect(parseMemory('512Mi')).toBe(512 * 2 ** 20);
    expect(parseMemory('2G')).toBe(2e9);
    expect(parseMemory('4GB')).toBeUndefined();
  });

  it('reads parameter values from command-line text by their type', () => {
    expect(paramValueFromText({ type: 'integer' }, '10')).toBe(10);
    expect(paramValueFromText({ type: 'number' }, 'abc')).toBe('abc');
    expect(paramValueFromText({ type: 'boolean' }, 'true')).toBe(true);
    expect(paramValueFromText({ type: 'list', items: 'integer' }, '1,2')).toEqual([1, 2]);
    expect(paramValueFromText({ type: 'list' }, '["a", 1]')).toEqual(['a', 1]);
  });

  it('requires required parameters only when values are supplied', () => {
    const text = `${HEADER}params:\n  data: { type: string }\nsteps:\n  s:\n    run: { command: [echo, '\${{ params.data }}'] }\n`;
    valid(loadText(text));
    expect(issuesOf(loadText(text, {}))).toMatchObject([{ code: 'PARAM_REQUIRED', path: 'params.data', line: 6 }]);
    expect(valid(loadText(text, { data: 'x.csv' })).params).toEqual({ data: 'x.csv' });
    expect(() => loadPipelineOrThrow(text, { registry, params: {} })).toThrow(SpecInvalidError);
  });

  it('reports errors in several steps at once, without cascading from a broken step', () => {
    const text =
      `${HEADER}steps:\n  a:\n    uses: ingest@1\n    with: { dataPath: 1 }\n` +
      `  b:\n    needs: [a]\n    run: { command: 3 }\n` +
      `  c:\n    needs: [b]\n    run: { command: ['\${{ steps.b.outputs.x }}', '\${{ steps.a.outputs.nope }}'] }\n`;
    expect(issuesOf(loadText(text)).map((issue) => [issue.code, issue.path])).toEqual([
      ['TYPE_MISMATCH', 'steps.a.with.dataPath'],
      ['INVALID_TYPE', 'steps.b.run.command'],
      ['UNKNOWN_OUTPUT', 'steps.c.run.command[1]'],
    ]);
  });
});

describe('step registry', () => {
  const descriptor = (version: string): StepDescriptor => ({ name: 'fit', version, inputs: {}, outputs: {} });

  it('resolves versions, the highest when none is given', () => {
    const versions = createStepRegistry([descriptor('1.9'), descriptor('1.10'), descriptor('2')]);
    expect(versions.resolve('fit')).toMatchObject({ ok: true, descriptor: { version: '2' } });
    expect(versions.resolve('fit@1.10')).toMatchObject({ ok: true, descriptor: { version: '1.10' } });
    expect(versions.resolve('fit@3')).toMatchObject({ ok: false, code: 'UNKNOWN_STEP_VERSION' });
    expect(versions.resolve('fti')).toMatchObject({
      ok: false,
      code: 'UNKNOWN_STEP_TYPE',
      hint: "did you mean 'fit'?",
    });
  });

  it('refuses malformed or repeated descriptors', () => {
    expect(() => createStepRegistry([descriptor('1'), descriptor('1')])).toThrow(/registered twice/);
    expect(() => createStepRegistry([{ ...descriptor('1'), inputs: { 'bad-name': { type: 'string' } } }])).toThrow(
      MloeError,
    );
  });

  it('describes the built-in steps of the demo', () => {
    expect(
      registry
        .list()
        .map((d) => d.name)
        .sort(),
    ).toEqual([...DEMO_STEPS, 'register', ...MODEL_STEPS.map((d) => d.name), ...DATA_STEPS.map((d) => d.name)].sort());
  });

  it('describes the model steps beside the demo steps they succeed (train@2, evaluate@2)', () => {
    expect(MODEL_STEPS.map((d) => `${d.name}@${d.version}`)).toEqual([
      'features@1',
      'train@2',
      'evaluate@2',
      'deploy@1',
    ]);
    expect(DATA_STEPS.map((d) => `${d.name}@${d.version}`)).toEqual(['ingest@2', 'validate@2', 'split@1']);
    expect(registry.resolve('train@1')).toMatchObject({ ok: true, descriptor: { version: '1' } });
  });
});

describe('validate accepts specs built in code or parsed', () => {
  it('returns the typed spec unchanged', () => {
    const spec: PipelineSpec = demoInCode().toSpec();
    const result = validatePipeline(spec, { registry });
    expect(result.ok && result.spec).toEqual(spec);
  });
});

describe('mloe validate', () => {
  const execFileAsync = promisify(execFile);
  const BIN = join(ROOT, 'bin', 'mloe.js');

  it('prints a summary and exits 0 for a valid spec', async () => {
    const { stdout } = await execFileAsync(BIN, ['validate', 'pipelines/demo/pipeline.yaml'], {
      cwd: ROOT,
      timeout: 30_000,
    });
    expect(stdout.split('\n')).toEqual([
      'pipelines/demo/pipeline.yaml: pipeline housing-price is valid',
      '  params (4): dataPath, features, target, testFraction',
      '  steps (6): ingest → validate → featurize → train → evaluate → register',
      '',
    ]);
  });

  it('prints every error as file:line:col  path  message (hint) and exits 1', async () => {
    const file = 'test/fixtures/specs/broken/references.yaml';
    const outcome = await execFileAsync(BIN, ['validate', file], { cwd: ROOT, timeout: 30_000 }).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(outcome.code).toBe(1);
    const lines = outcome.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(
      `${file}:17:41  steps.validate.with.dataset  step 'ingest' has no output 'datset' (did you mean 'dataset'?)`,
    );
    expect(lines[1]).toMatch(new RegExp(`^${file}:23:26  steps\\.featurize\\.with\\.dataset  .*not among its needs`));
    expect(lines[2]).toMatch(/:25:25 {2}steps\.featurize\.with\.target {2}steps\.nope is not a step/);
    expect(lines[3]).toBe(`${file}: 3 errors`);
  });
});
