/**
 * Sub-pipelines (`pipeline: ./sub.yaml` steps) and `heartbeatTimeout`: path rules, loading and validating the files
 * recursively (every error with its own file, line and column; missing files, cycles, bad parameters, bad outputs),
 * `mloe validate`, the activity options of `heartbeatTimeout`; then on the jest dev server with a real worker: a
 * parent whose sub-pipeline (itself running a nested one) feeds a downstream step, a failing child, cancellation
 * reaching the child, and replay of every history.
 */
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';

import {
  BUILTIN_IMPLEMENTATIONS,
  createStepImplementations,
  type StepImplementation,
  type StepImplementations,
} from '../activities/steps';
import {
  cancelPipeline,
  getPipelineStatus,
  loadPipelineForRun,
  startPipeline,
  waitForPipeline,
  type PipelineOutcome,
  type StartPipelineOptions,
} from '../clients/pipelines';
import { PIPELINE_FILE_MAX_BYTES, loadPipelineFileTree, specFiles } from '../clients/spec-files';
import { runValidate } from '../clients/validate';
import {
  SpecInvalidError,
  createStepRegistry,
  formatIssue,
  loadPipelineTree,
  resolvePipelinePath,
  type PipelineSpec,
  type PipelineTreeResult,
  type SpecIssue,
} from '../core/spec';
import type { RunPipelineWorkflow } from '../workflows/types';
import { HEARTBEAT_TIMEOUT_MS, stepActivityOptions } from '../workflows/step-execution';
import { MAX_CHILD_WORKFLOW_ID_LENGTH, childWorkflowId } from '../workflows/sub-pipeline';
import { type TestEnv } from './devserver/harness';
import { ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP, cancelledActivities, startedActivities } from './fixtures/test-steps';
import { startPipelineTestWorker, stepIn } from './pipeline-harness';
import { pollUntil } from './support/poll';
import { replayAll } from './support/replay';

/** Steps only these tests register: scalar outputs only, so nothing here depends on the artifact store. */
const TEST_STEPS: StepImplementation[] = [
  {
    descriptor: {
      name: 'add',
      version: '1',
      inputs: { a: { type: 'integer' }, b: { type: 'integer', default: 0 } },
      outputs: { sum: { type: 'integer' } },
    },
    async run(inputs) {
      return { outputs: { sum: Number(inputs.a) + Number(inputs.b) } };
    },
  },
  ECHO_STEP,
  FAIL_STEP,
  WAIT_CANCEL_STEP,
];

const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, TEST_STEPS);
const registry = createStepRegistry(steps.descriptors);

const HEADER = 'apiVersion: mloe.dev/v1\nkind: Pipeline\n';

/** Writes files (path → text) under a new temporary directory; returns the directory. */
async function writeTree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'mloe-sub-pipeline-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

/** The 1-based line and column of the first occurrence of `needle` in `text` (after `after`, when given). */
function positionOf(text: string, needle: string, after = ''): { line: number; column: number } {
  const offset = text.indexOf(needle, after === '' ? 0 : text.indexOf(after));
  if (offset < 0) throw new Error(`'${needle}' is not in the text`);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

function issuesOf(result: PipelineTreeResult): SpecIssue[] {
  if (result.ok) throw new Error('expected the pipeline to be invalid');
  return result.issues;
}

/** Code, file, path and position of each issue, for comparisons. */
function placed(issues: readonly SpecIssue[]): { code: string; file?: string; path: string; line?: number }[] {
  return issues.map(({ code, file, path, line, column }) => ({
    code,
    path,
    ...(file === undefined ? {} : { file }),
    ...(line === undefined ? {} : { line, column }),
  }));
}

describe('sub-pipeline child workflow ids', () => {
  it('are <parent>-<step> when short, and a bounded, unique prefix-and-hash when nested deep', () => {
    expect(childWorkflowId('pipeline-demo-1a2b3c4d', 'train')).toBe('pipeline-demo-1a2b3c4d-train');
    const parent = `pipeline-${'a'.repeat(63)}-1a2b3c4d-${'s'.repeat(60)}`;
    const first = childWorkflowId(parent, 'prepare_features_for_the_model');
    const second = childWorkflowId(parent, 'prepare_features_for_the_modex');
    expect(first.length).toBe(MAX_CHILD_WORKFLOW_ID_LENGTH);
    expect(first).toMatch(/^pipeline-a+-1a2b3c4d-s+-[a-z_]*-?[0-9a-f]{8}$/);
    expect(first).not.toBe(second);
    expect(childWorkflowId(parent, 'prepare_features_for_the_model')).toBe(first);
  });
});

describe('sub-pipeline paths', () => {
  it.each([
    ['pipeline.yaml', './sub.yaml', 'sub.yaml'],
    ['pipeline.yaml', 'lib/sub.yml', 'lib/sub.yml'],
    ['lib/sub.yaml', './inner.yaml', 'lib/inner.yaml'],
    ['lib/sub.yaml', '../shared/x.json', 'shared/x.json'],
    ['lib/deep/sub.yaml', '.././../x.yaml', 'x.yaml'],
    ['', 'a//b/./c.yaml', 'a/b/c.yaml'],
    ['lib/sub.yaml', 'train:v2.yaml', 'lib/train:v2.yaml'],
    ['pipeline.yaml', 'file:x.json', 'file:x.json'],
  ])('from %s, %s is %s', (from, reference, path) => {
    expect(resolvePipelinePath(from, reference)).toEqual({ ok: true, path });
  });

  it.each([
    ['pipeline.yaml', '../sibling/x.yaml', /leaves the directory of the root/],
    ['lib/sub.yaml', '../../x.yaml', /leaves the directory of the root/],
    ['pipeline.yaml', '/etc/x.yaml', /absolute path/],
    ['pipeline.yaml', '~/x.yaml', /absolute path/],
    ['pipeline.yaml', 'C:/x.yaml', /is a drive path/],
    ['pipeline.yaml', 'c:x.yaml', /is a drive path/],
    ['pipeline.yaml', 'https://example.com/x.yaml', /is a URL/],
    ['pipeline.yaml', 'file:///etc/x.yaml', /is a URL/],
    ['pipeline.yaml', 'lib\\x.yaml', /backslash/],
    ['pipeline.yaml', 'x\0.yaml', /NUL character/],
    ['pipeline.yaml', 'sub', /'sub' is not a pipeline spec file: its name must end in .yaml, .yml or .json$/],
    ['pipeline.yaml', 'etclink/hostname', /must end in .yaml, .yml or .json/],
    ['pipeline.yaml', 'lib/', /must end in .yaml, .yml or .json/],
    ['pipeline.yaml', 'x.yaml/..', /must end in .yaml, .yml or .json/],
    ['pipeline.yaml', 'x.YAML', /must end in .yaml, .yml or .json/],
  ])('from %s, %s is refused', (from, reference, message) => {
    const result = resolvePipelinePath(from, reference);
    expect(result).toMatchObject({ ok: false, code: 'PIPELINE_PATH_INVALID' });
    expect(result.ok ? '' : result.message).toMatch(message);
  });
});

/** A sub-pipeline with an integer parameter and typed outputs, that runs a nested one. */
const SUB = `${HEADER}metadata: { name: sub }
params:
  x: { type: integer }
  greeting: { type: string, default: hi }
steps:
  inc:
    uses: add@1
    with: { a: '\${{ params.x }}', b: 1 }
  inner:
    pipeline: ./inner.yaml
    needs: [inc]
    with: { n: '\${{ steps.inc.outputs.sum }}' }
  shout:
    uses: echo@1
    needs: [inner]
    with: { message: '\${{ params.greeting + " " + string(steps.inner.outputs.twice) }}' }
outputs:
  total: { type: integer, value: '\${{ steps.inc.outputs.sum }}' }
  text: { type: string, value: '\${{ steps.shout.outputs.message }}' }
  doubled: { type: integer, value: '\${{ steps.inner.outputs.twice }}', description: 'the total, twice' }
`;

const INNER = `${HEADER}metadata: { name: inner }
params:
  n: { type: integer, minimum: 0 }
steps:
  twice:
    uses: add@1
    with: { a: '\${{ params.n }}', b: '\${{ params.n }}' }
outputs:
  twice: { type: integer, value: '\${{ steps.twice.outputs.sum }}' }
`;

const PARENT = `${HEADER}metadata: { name: parent }
params:
  start: { type: integer, default: 40 }
steps:
  prep:
    uses: add@1
    with: { a: '\${{ params.start }}', b: 1 }
  sub:
    pipeline: ./lib/sub.yaml
    needs: [prep]
    with: { x: '\${{ steps.prep.outputs.sum }}' }
  after:
    uses: echo@1
    needs: [sub]
    with: { message: '\${{ steps.sub.outputs.text + "!" }}' }
  check:
    uses: add@1
    needs: [sub]
    with: { a: '\${{ steps.sub.outputs.total }}', b: '\${{ steps.sub.outputs.doubled }}' }
`;

describe('loading and validating sub-pipelines', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });
  async function tree(files: Record<string, string>): Promise<string> {
    const root = await writeTree(files);
    roots.push(root);
    return root;
  }

  it('loads a parent with nested sub-pipelines: every spec by path, outputs typed downstream', async () => {
    const root = await tree({ 'parent.yaml': PARENT, 'lib/sub.yaml': SUB, 'lib/inner.yaml': INNER });
    const result = await loadPipelineFileTree(join(root, 'parent.yaml'), { registry });
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    expect(result.specPath).toBe('parent.yaml');
    expect(Object.keys(result.pipelines).sort()).toEqual(['lib/inner.yaml', 'lib/sub.yaml']);
    expect(result.pipelines['lib/sub.yaml']?.outputs?.total).toEqual({
      type: 'integer',
      value: '${{ steps.inc.outputs.sum }}',
    });
    expect(result.order).toEqual(['prep', 'sub', 'after', 'check']);

    // The sub-pipeline's outputs are typed: a string output into an integer input is an error at the parent.
    const mistyped = PARENT.replace("a: '${{ steps.sub.outputs.total }}'", "a: '${{ steps.sub.outputs.text }}'");
    await writeFile(join(root, 'mistyped.yaml'), mistyped);
    const [issue, ...rest] = issuesOf(await loadPipelineFileTree(join(root, 'mistyped.yaml'), { registry }));
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({
      code: 'TYPE_MISMATCH',
      file: join(root, 'mistyped.yaml'),
      path: 'steps.check.with.a',
      ...positionOf(mistyped, 'steps.sub.outputs.text', 'check:'),
    });
    expect(issue?.message).toBe("input 'a' of step 'check' is integer, but steps.sub.outputs.text is string");
  });

  it('reports a missing file at the step naming it, with the resolved path', async () => {
    const parent = `${HEADER}metadata: { name: p }\nsteps:\n  train:\n    pipeline: ./lib/train.yaml\n`;
    const root = await tree({ 'p.yaml': parent });
    const issues = issuesOf(await loadPipelineFileTree(join(root, 'p.yaml'), { registry }));
    expect(placed(issues)).toEqual([
      {
        code: 'PIPELINE_NOT_FOUND',
        file: join(root, 'p.yaml'),
        path: 'steps.train.pipeline',
        ...positionOf(parent, './lib/train.yaml'),
      },
    ]);
    expect(issues[0]?.message).toBe(
      `step 'train': there is no file ${join(root, 'lib', 'train.yaml')} (pipeline: ./lib/train.yaml)`,
    );
  });

  it('reports files that run each other in a cycle, in the file that closes it', async () => {
    const a = `${HEADER}metadata: { name: a }\nsteps:\n  toB:\n    pipeline: b.yaml\n`;
    const b = `${HEADER}metadata: { name: b }\nsteps:\n  ok:\n    uses: echo@1\n    with: { message: x }\n  toA:\n    pipeline: ./a.yaml\n`;
    const root = await tree({ 'a.yaml': a, 'b.yaml': b });
    const issues = issuesOf(await loadPipelineFileTree(join(root, 'a.yaml'), { registry }));
    expect(placed(issues)).toEqual([
      { code: 'PIPELINE_INVALID', file: join(root, 'a.yaml'), path: 'steps.toB.pipeline', ...positionOf(a, 'b.yaml') },
      { code: 'PIPELINE_CYCLE', file: join(root, 'b.yaml'), path: 'steps.toA.pipeline', ...positionOf(b, './a.yaml') },
    ]);
    const [pointer, cycle] = issues;
    expect(pointer?.message).toBe(`step 'toB': pipeline b.yaml is invalid (1 error in ${join(root, 'b.yaml')})`);
    expect(cycle?.message).toBe(
      `step 'toA': pipelines run each other in a cycle: ${['a.yaml', 'b.yaml', 'a.yaml'].map((f) => join(root, f)).join(' → ')}`,
    );
  });

  it('type-checks with: against the parameters of the sub-pipeline, and requires the required ones', async () => {
    const parent = `${HEADER}metadata: { name: p }
steps:
  inner:
    pipeline: ./inner.yaml
    with: { n: ten, extra: 1 }
  again:
    pipeline: ./inner.yaml
    with: { n: -1 }
  none:
    pipeline: ./inner.yaml
`;
    const root = await tree({ 'p.yaml': parent, 'inner.yaml': INNER });
    const issues = issuesOf(await loadPipelineFileTree(join(root, 'p.yaml'), { registry }));
    const file = join(root, 'p.yaml');
    expect(placed(issues)).toEqual([
      { code: 'TYPE_MISMATCH', file, path: 'steps.inner.with.n', ...positionOf(parent, 'ten') },
      { code: 'UNKNOWN_INPUT', file, path: 'steps.inner.with.extra', ...positionOf(parent, 'extra') },
      { code: 'PARAM_VALUE_INVALID', file, path: 'steps.again.with.n', ...positionOf(parent, '-1') },
      { code: 'MISSING_INPUT', file, path: 'steps.none', ...positionOf(parent, 'none') },
    ]);
    expect(issues.map((issue) => issue.message)).toEqual([
      'parameter \'n\' of ./inner.yaml: expected an integer, got the string "ten"',
      "pipeline ./inner.yaml (inner) has no parameter 'extra'",
      "parameter 'n' of ./inner.yaml: -1 is below the minimum 0",
      "step 'none' needs a value for the required parameter 'n' (integer) of ./inner.yaml",
    ]);
  });

  it("reports a sub-pipeline's own errors with its file, line and column (an output reading a missing step)", async () => {
    const broken = INNER.replace('steps.twice.outputs.sum', 'steps.thrice.outputs.sum');
    const parent = `${HEADER}metadata: { name: p }\nsteps:\n  inner:\n    pipeline: lib/inner.yaml\n    with: { n: 1 }\n`;
    const root = await tree({ 'p.yaml': parent, 'lib/inner.yaml': broken });
    const issues = issuesOf(await loadPipelineFileTree(join(root, 'p.yaml'), { registry }));
    expect(placed(issues)).toEqual([
      {
        code: 'PIPELINE_INVALID',
        file: join(root, 'p.yaml'),
        path: 'steps.inner.pipeline',
        ...positionOf(parent, 'lib/inner.yaml'),
      },
      {
        code: 'UNKNOWN_STEP_REFERENCE',
        file: join(root, 'lib', 'inner.yaml'),
        path: 'outputs.twice.value',
        ...positionOf(broken, 'thrice'),
      },
    ]);
    expect(issues[1]?.message).toBe('steps.thrice is not a step of this pipeline');
    expect(issues[1]?.hint).toBe("did you mean 'twice'?");
  });

  it('reports YAML errors of a sub-pipeline file in that file, and each broken file once', async () => {
    const parent = `${HEADER}metadata: { name: p }\nsteps:\n  a:\n    pipeline: bad.yaml\n  b:\n    pipeline: ./bad.yaml\n`;
    const bad = `${HEADER}metadata: { name: bad }\nsteps:\n  x: [unclosed\n`;
    const root = await tree({ 'p.yaml': parent, 'bad.yaml': bad });
    const issues = issuesOf(await loadPipelineFileTree(join(root, 'p.yaml'), { registry }));
    expect(issues.map((issue) => [issue.code, issue.file, issue.path])).toEqual([
      ['PIPELINE_INVALID', join(root, 'p.yaml'), 'steps.a.pipeline'],
      ['PIPELINE_INVALID', join(root, 'p.yaml'), 'steps.b.pipeline'],
      ['YAML_SYNTAX', join(root, 'bad.yaml'), ''],
    ]);
    expect(issues[2]?.line).toBeGreaterThan(4);
  });

  it('mloe validate prints the errors of every file, and lists the sub-pipelines of a valid spec', async () => {
    // The CLI validates against the built-in steps.
    const parent = `${HEADER}metadata: { name: cli }
steps:
  data:
    pipeline: ./lib/data.yaml
    with: { path: data.csv }
  check:
    uses: validate@1
    needs: [data]
    with: { dataset: '\${{ steps.data.outputs.dataset }}', columns: [a] }
`;
    const data = `${HEADER}metadata: { name: data }
params:
  path: { type: string }
steps:
  ingest:
    uses: ingest@1
    with: { dataPath: '\${{ params.pth }}' }
outputs:
  dataset: { type: dataset, value: '\${{ steps.ingest.outputs.dataset }}' }
`;
    const root = await tree({ 'cli.yaml': parent, 'lib/data.yaml': data });
    const lines: string[] = [];
    const io = { stdout: (line: string) => lines.push(line), stderr: (line: string) => lines.push(`! ${line}`) };
    expect(await runValidate(join(root, 'cli.yaml'), {}, io)).toBe(1);
    const at = (file: string, text: string, needle: string): string => {
      const { line, column } = positionOf(text, needle);
      return `${join(root, file)}:${line}:${column}`;
    };
    expect(lines).toEqual([
      `${at('cli.yaml', parent, './lib/data.yaml')}  steps.data.pipeline  step 'data': pipeline ./lib/data.yaml is invalid (1 error in ${join(root, 'lib', 'data.yaml')}) (fix the errors reported for ${join(root, 'lib', 'data.yaml')})`,
      `${at('lib/data.yaml', data, 'pth')}  steps.ingest.with.dataPath  params.pth is not a declared parameter (did you mean 'path'?)`,
      `${join(root, 'cli.yaml')}: 2 errors`,
    ]);

    await writeFile(join(root, 'lib', 'data.yaml'), data.replace('pth', 'path'));
    lines.length = 0;
    expect(await runValidate(join(root, 'cli.yaml'), {}, io)).toBe(0);
    expect(lines).toEqual([
      `${join(root, 'cli.yaml')}: pipeline cli is valid`,
      '  params (0): -',
      '  steps (2): data → check',
      '  sub-pipelines (1): lib/data.yaml',
    ]);
  });

  it('resolves the pipeline: paths of a spec object against baseDirectory', async () => {
    const root = await tree({ 'lib/inner.yaml': INNER });
    const spec = {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: 'object' },
      steps: { inner: { pipeline: 'lib/inner.yaml', with: { n: 2 } } },
    };
    const loaded = await loadPipelineForRun({ spec, baseDirectory: root }, registry);
    expect(loaded.specPath).toBe('');
    expect(Object.keys(loaded.pipelines)).toEqual(['lib/inner.yaml']);
    await expect(loadPipelineForRun({ spec }, registry)).rejects.toBeInstanceOf(SpecInvalidError);
  });
});

/** Resolves after `ms`, unless `signal` aborts first. */
async function timer(ms: number, signal: AbortSignal): Promise<'timeout'> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
  return 'timeout';
}

describe('sub-pipeline files on disk: symbolic links, special files, size', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });
  /** A temporary directory holding `p/` (the root spec's directory) and files beside it, outside the root. */
  async function tree(files: Record<string, string>): Promise<string> {
    const root = await writeTree(files);
    roots.push(root);
    return root;
  }
  /** A root spec whose steps run the given `pipeline:` paths, by step id. */
  const parentOf = (references: Record<string, string>): string =>
    `${HEADER}metadata: { name: p }\nsteps:\n${Object.entries(references)
      .map(([id, reference]) => `  ${id}:\n    pipeline: '${reference}'\n`)
      .join('')}`;
  const SECRET = `${HEADER}metadata: { name: secret-value-4711 }\nsteps: 42\n`;
  const VALID = `${HEADER}metadata: { name: leaf }\nsteps:\n  a:\n    uses: echo@1\n    with: { message: hi }\n`;

  it("refuses a symbolic link that leads outside the root spec's directory, and never shows the file", async () => {
    const parent = parentOf({ escape: 'up/outside.yaml', file: 'link.yaml' });
    const root = await tree({ 'p/p.yaml': parent, 'outside.yaml': SECRET });
    await symlink('..', join(root, 'p', 'up'));
    await symlink(join(root, 'outside.yaml'), join(root, 'p', 'link.yaml'));

    const issues = issuesOf(await loadPipelineFileTree(join(root, 'p', 'p.yaml'), { registry }));
    expect(placed(issues)).toEqual([
      {
        code: 'PIPELINE_PATH_INVALID',
        file: join(root, 'p', 'p.yaml'),
        path: 'steps.escape.pipeline',
        ...positionOf(parent, "'up/outside.yaml'"),
      },
      {
        code: 'PIPELINE_PATH_INVALID',
        file: join(root, 'p', 'p.yaml'),
        path: 'steps.file.pipeline',
        ...positionOf(parent, "'link.yaml'"),
      },
    ]);
    expect(issues.map((issue) => issue.message)).toEqual([
      `step 'escape': ${join(root, 'p', 'up', 'outside.yaml')} resolves through a symbolic link to ${join(root, 'outside.yaml')}, outside the root spec's directory ${join(root, 'p')}`,
      `step 'file': ${join(root, 'p', 'link.yaml')} resolves through a symbolic link to ${join(root, 'outside.yaml')}, outside the root spec's directory ${join(root, 'p')}`,
    ]);

    // What the review saw: mloe validate echoing the outside file's values in its errors.
    const lines: string[] = [];
    const io = { stdout: (line: string) => lines.push(line), stderr: (line: string) => lines.push(line) };
    expect(await runValidate(join(root, 'p', 'p.yaml'), {}, io)).toBe(1);
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toContain('secret-value-4711');
  });

  it('follows symbolic links that stay inside the root (a directory and a file)', async () => {
    const parent = parentOf({ viaDirectory: 'current/leaf.yaml', viaFile: 'leaf.yaml' });
    const root = await tree({ 'p/p.yaml': parent, 'p/v2/leaf.yaml': VALID });
    await symlink('v2', join(root, 'p', 'current'));
    await symlink(join(root, 'p', 'v2', 'leaf.yaml'), join(root, 'p', 'leaf.yaml'));
    const result = await loadPipelineFileTree(join(root, 'p', 'p.yaml'), { registry });
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    expect(Object.keys(result.pipelines).sort()).toEqual(['current/leaf.yaml', 'leaf.yaml']);
    expect(result.pipelines['current/leaf.yaml']?.metadata.name).toBe('leaf');

    // The root spec's directory may itself be reached through a link: its real path is the bound.
    await symlink(join(root, 'p'), join(root, 'alias'));
    expect((await loadPipelineFileTree(join(root, 'alias', 'p.yaml'), { registry })).ok).toBe(true);
  });

  it('refuses a FIFO and a directory without opening them (no hang)', async () => {
    const parent = parentOf({ fifo: 'fifo.yaml', directory: 'dir.yaml' });
    const root = await tree({ 'p/p.yaml': parent, 'p/dir.yaml/.keep': '' });
    const fifo = join(root, 'p', 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const abort = new AbortController();
    const loading = loadPipelineFileTree(join(root, 'p', 'p.yaml'), { registry });
    const outcome = await Promise.race([loading, timer(5_000, abort.signal)]);
    abort.abort();
    if (outcome === 'timeout') {
      // A reader blocked on the FIFO is released by a writer, so the suite can still end.
      await (await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK)).close();
      throw new Error('loading hung on the FIFO');
    }
    const issues = issuesOf(outcome);
    expect(issues.map(({ code, path, message }) => ({ code, path, message }))).toEqual([
      {
        code: 'PIPELINE_NOT_FOUND',
        path: 'steps.fifo.pipeline',
        message: `step 'fifo': cannot read ${fifo}: it is a FIFO (named pipe), not a regular file`,
      },
      {
        code: 'PIPELINE_NOT_FOUND',
        path: 'steps.directory.pipeline',
        message: `step 'directory': cannot read ${join(root, 'p', 'dir.yaml')}: it is a directory, not a regular file`,
      },
    ]);
  });

  it('refuses a file over 1 MiB, saying so, and reads one of exactly 1 MiB', async () => {
    const pad = (text: string, size: number): string => `${text}#${'x'.repeat(size - text.length - 2)}\n`;
    const root = await tree({
      'p/p.yaml': parentOf({ big: 'big.yaml', fits: 'fits.yaml' }),
      'p/big.yaml': pad(VALID, PIPELINE_FILE_MAX_BYTES + 1),
      'p/fits.yaml': pad(VALID, PIPELINE_FILE_MAX_BYTES),
    });
    const issues = issuesOf(await loadPipelineFileTree(join(root, 'p', 'p.yaml'), { registry }));
    expect(issues.map(({ code, path, message }) => ({ code, path, message }))).toEqual([
      {
        code: 'PIPELINE_NOT_FOUND',
        path: 'steps.big.pipeline',
        message: `step 'big': cannot read ${join(root, 'p', 'big.yaml')}: a pipeline spec file may be at most 1 MiB (1048576 bytes), and this one is 1.0 MiB (1048577 bytes)`,
      },
    ]);
  });

  it('never reads a path without a spec extension, and says which extensions are allowed', async () => {
    const parent = parentOf({ etc: 'etclink/hostname', bare: 'sub', ok: 'train:v2.yaml' });
    const root = await tree({ 'p/p.yaml': parent, 'p/sub': SECRET, 'p/train:v2.yaml': VALID });
    await symlink('/etc', join(root, 'p', 'etclink'));
    const files = specFiles(join(root, 'p'), join(root, 'p'));
    const reads: string[] = [];
    const result = await loadPipelineTree(
      { path: 'p.yaml', text: parent, file: join(root, 'p', 'p.yaml') },
      { registry, files: { ...files, read: (path) => (reads.push(path), files.read(path)) } },
    );
    expect(reads).toEqual(['train:v2.yaml']);
    const issues = issuesOf(result);
    expect(placed(issues)).toEqual([
      {
        code: 'PIPELINE_PATH_INVALID',
        file: join(root, 'p', 'p.yaml'),
        path: 'steps.etc.pipeline',
        ...positionOf(parent, "'etclink/hostname'"),
      },
      {
        code: 'PIPELINE_PATH_INVALID',
        file: join(root, 'p', 'p.yaml'),
        path: 'steps.bare.pipeline',
        ...positionOf(parent, "'sub'"),
      },
    ]);
    expect(issues.map((issue) => issue.message)).toEqual([
      "step 'etc': 'etclink/hostname' is not a pipeline spec file: its name must end in .yaml, .yml or .json",
      "step 'bare': 'sub' is not a pipeline spec file: its name must end in .yaml, .yml or .json",
    ]);
  });
});

describe('heartbeatTimeout', () => {
  const spec = (defaults?: PipelineSpec['defaults']): Pick<PipelineSpec, 'defaults'> =>
    defaults === undefined ? {} : { defaults };

  it('keeps the fixed default: 30 s for steps that may run longer than that, none for shorter ones', () => {
    expect(stepActivityOptions(spec(), { uses: 'echo@1' }).heartbeatTimeout).toBe(HEARTBEAT_TIMEOUT_MS);
    expect(stepActivityOptions(spec(), { uses: 'echo@1', timeout: '20s' }).heartbeatTimeout).toBeUndefined();
    expect(stepActivityOptions(spec({ timeout: '30s' }), { uses: 'echo@1' }).heartbeatTimeout).toBeUndefined();
  });

  it('maps the step, else defaults, onto the activity heartbeat timeout', () => {
    expect(stepActivityOptions(spec(), { uses: 'echo@1', heartbeatTimeout: '5m' })).toMatchObject({
      startToCloseTimeout: 600_000,
      heartbeatTimeout: 300_000,
    });
    expect(
      stepActivityOptions(spec({ heartbeatTimeout: '10s' }), { uses: 'echo@1', timeout: '20s' }).heartbeatTimeout,
    ).toBe(10_000);
    expect(
      stepActivityOptions(spec({ heartbeatTimeout: '10s' }), { uses: 'echo@1', heartbeatTimeout: '1500ms' })
        .heartbeatTimeout,
    ).toBe(1_500);
  });

  it('is validated against the timeout it guards', async () => {
    const text = `${HEADER}metadata: { name: hb }
defaults: { heartbeatTimeout: 1m }
steps:
  slow:
    uses: echo@1
    with: { message: x }
    timeout: 30s
  own:
    uses: echo@1
    with: { message: x }
    timeout: 2m
    heartbeatTimeout: 2m
  fine:
    uses: echo@1
    with: { message: x }
    timeout: 2m
`;
    const root = await writeTree({ 'hb.yaml': text });
    try {
      const issues = issuesOf(await loadPipelineFileTree(join(root, 'hb.yaml'), { registry }));
      expect(issues.map(({ code, path, message, hint }) => ({ code, path, message, hint }))).toEqual([
        {
          code: 'INVALID_HEARTBEAT',
          path: 'steps.slow.timeout',
          message: 'timeout 30s is not longer than the heartbeatTimeout 1m from defaults, so that could never fire',
          hint: 'give this step a shorter heartbeatTimeout of its own, or a longer timeout',
        },
        {
          code: 'INVALID_HEARTBEAT',
          path: 'steps.own.heartbeatTimeout',
          message: "heartbeatTimeout 2m is not shorter than the step's timeout 2m, so it could never fire",
          hint: 'make heartbeatTimeout shorter than 2m (e.g. 30s), or remove it',
        },
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('sub-pipelines on the dev server', () => {
  let env: TestEnv;
  let client: Client;
  let workflowBundle: WorkflowBundleWithSourceMap;
  let stopWorker: (() => Promise<void>) | undefined;
  let root: string;
  const taskQueue = `mloe-sub-pipeline-test-${process.pid}-${Date.now()}`;
  const handles: WorkflowHandle[] = [];

  beforeAll(async () => {
    root = await writeTree({
      'parent.yaml': PARENT,
      'lib/sub.yaml': SUB,
      'lib/inner.yaml': INNER,
      'failing.yaml': `${HEADER}metadata: { name: failing }
steps:
  first:
    uses: echo@1
    with: { message: hello }
  sub:
    pipeline: ./lib/bad.yaml
    needs: [first]
  after:
    uses: echo@1
    needs: [sub]
    with: { message: '\${{ steps.sub.outputs.word }}' }
`,
      'lib/bad.yaml': `${HEADER}metadata: { name: bad }
steps:
  ok:
    uses: echo@1
    with: { message: fine }
  bad:
    uses: fail@1
    needs: [ok]
outputs:
  word: { type: string, value: '\${{ steps.ok.outputs.message }}' }
`,
      'blocking.yaml': `${HEADER}metadata: { name: blocking }
steps:
  sub:
    pipeline: lib/block.yaml
  after:
    uses: echo@1
    needs: [sub]
    with: { message: never }
`,
      'lib/block.yaml': `${HEADER}metadata: { name: block }
steps:
  block:
    uses: wait-cancel@1
`,
    });
    ({ env, workflowBundle, stop: stopWorker } = await startPipelineTestWorker({ taskQueue, steps }));
    client = env.client;
  });

  afterAll(async () => {
    await stopWorker?.();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  async function start(options: Partial<StartPipelineOptions> & { file: string }) {
    const started = await startPipeline(client, {
      artifactRoot: root,
      workingDir: root,
      taskQueue,
      descriptors: steps.descriptors,
      noCache: true,
      ...options,
    });
    handles.push(started.handle);
    return started;
  }

  async function run(file: string): Promise<PipelineOutcome & { workflowId: string }> {
    const started = await start({ file: join(root, file) });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    return { ...outcome, workflowId: started.workflowId };
  }

  it("runs a sub-pipeline (and its nested one) as child workflows; its outputs feed the parent's steps", async () => {
    const { status, error, workflowId } = await run('parent.yaml');
    expect(error).toBeUndefined();
    expect(status.state).toBe('completed');
    const sub = stepIn(status, 'sub');
    expect(sub).toMatchObject({
      uses: 'pipeline:./lib/sub.yaml',
      state: 'completed',
      attempts: 1,
      outputs: { total: 42, text: 'hi 84', doubled: 84 },
      childWorkflow: { workflowId: `${workflowId}-sub`, firstExecutionRunId: expect.any(String) as string },
    });
    expect(Date.parse(sub.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(sub.startedAt ?? ''));
    expect(stepIn(status, 'after').outputs).toEqual({ message: 'hi 84!', length: 6 });
    expect(stepIn(status, 'check').outputs).toEqual({ sum: 126 });

    // The child is a runPipeline of its own, found by the readable id, with the parent's settings.
    const child = client.workflow.getHandle<RunPipelineWorkflow>(`${workflowId}-sub`);
    const description = await child.describe();
    expect(description.type).toBe('runPipeline');
    expect(description.runId).toBe(sub.childWorkflow?.firstExecutionRunId);
    expect(description.parentExecution?.workflowId).toBe(workflowId);
    expect(description.memo).toMatchObject({ pipeline: 'sub', parent: workflowId, step: 'sub', params: { x: 41 } });
    const childStatus = await child.result();
    expect(childStatus).toMatchObject({ pipeline: 'sub', state: 'completed', params: { x: 41, greeting: 'hi' } });
    expect(childStatus.artifactStore).toBe(status.artifactStore);
    expect(stepIn(childStatus, 'inner')).toMatchObject({
      uses: 'pipeline:./inner.yaml',
      outputs: { twice: 84 },
      childWorkflow: { workflowId: `${workflowId}-sub-inner` },
    });
    const nested = client.workflow.getHandle<RunPipelineWorkflow>(`${workflowId}-sub-inner`);
    expect((await nested.result()).params).toEqual({ n: 42 });
    handles.push(child, nested);
  });

  it("fails the step with the child's error when the sub-pipeline fails", async () => {
    const { status, error, workflowId } = await run('failing.yaml');
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toMatchObject({ type: 'PIPELINE_STEP_FAILED' });
    expect(stepIn(status, 'sub')).toMatchObject({
      state: 'failed',
      error: 'PIPELINE_STEP_FAILED: step bad failed: DATA_INVALID: this step always fails',
      childWorkflow: { workflowId: `${workflowId}-sub` },
    });
    expect(stepIn(status, 'after').state).toBe('cancelled');
    expect(status.error).toBe(
      'step sub failed: PIPELINE_STEP_FAILED: step bad failed: DATA_INVALID: this step always fails',
    );
    const child = client.workflow.getHandle(`${workflowId}-sub`);
    expect((await child.describe()).status.name).toBe('FAILED');
    handles.push(child);
  });

  it('cancelling the parent cancels the child and its running steps; both end cancelled', async () => {
    const started = await start({ file: join(root, 'blocking.yaml') });
    const childId = `${started.workflowId}-sub`;
    const key = `${childId}/block`;
    await pollUntil(`step block of the child ${childId} to start`, () => startedActivities.has(key));
    const running = stepIn(await getPipelineStatus(client, started.workflowId), 'sub');
    expect(running).toMatchObject({ state: 'running', childWorkflow: { workflowId: childId } });

    await cancelPipeline(client, started.workflowId);
    const { status, error } = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(Object.fromEntries(status.steps.map((step) => [step.id, step.state]))).toEqual({
      sub: 'cancelled',
      after: 'cancelled',
    });
    expect(cancelledActivities.has(key)).toBe(true);
    const child = client.workflow.getHandle<RunPipelineWorkflow>(childId);
    expect((await child.describe()).status.name).toBe('CANCELLED');
    expect(stepIn(await getPipelineStatus(client, childId), 'block').state).toBe('cancelled');
    handles.push(child);
  });

  it('replays every history of this suite, parents and children', async () => {
    expect(handles.length).toBeGreaterThanOrEqual(7);
    await replayAll(workflowBundle, handles);
  });
});
