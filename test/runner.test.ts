/**
 * The local command runner: real child processes (sh, python3) against a real file artifact store in a temporary
 * directory. Cancellation and heartbeats run inside MockActivityEnvironment; everything else is a plain call.
 * Nothing sleeps to synchronise: tests wait on files and events with polling deadlines.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';

import { FileArtifactStore, getBytes, getText, parseArtifactRef, type ArtifactRef } from '../activities/artifacts';
import {
  liveGroupMembers,
  processState,
  runCommandStep,
  type CommandStepRequest,
  type CommandStepResult,
} from '../activities/runner';
import { MloeError } from '../core/errors';
import { pollUntil } from './support/poll';
import { rejectionOf } from './support/rejection';
import { suiteTemporaryDirectories } from './temporary-directories';

const temporaryDirectory = suiteTemporaryDirectories('mloe-runner-test-');

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A store in a fresh directory and a request against it. */
async function setup(overrides: Partial<CommandStepRequest> & Pick<CommandStepRequest, 'command'>): Promise<{
  store: FileArtifactStore;
  request: CommandStepRequest;
  dir: string;
}> {
  const dir = await temporaryDirectory();
  const store = new FileArtifactStore({ root: join(dir, 'artifacts') });
  return {
    dir,
    store,
    request: {
      stepId: 'step1',
      workflowId: 'run-1',
      params: {},
      inputs: {},
      outputs: {},
      artifactRoot: store.rootUri,
      ...overrides,
    },
  };
}

async function expectMloeError(promise: Promise<unknown>, code: string): Promise<MloeError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(MloeError);
  expect((error as MloeError).code).toBe(code);
  return error as MloeError;
}

function asRef(value: unknown): ArtifactRef {
  return parseArtifactRef(value);
}

/** V8's full garbage collection, made callable without starting node with `--expose-gc`. */
const hasPython = spawnSync('python3', ['--version']).status === 0;

/** Doubles each number of the input file, reads a param, writes an artifact, a scalar and metrics. */
const SHELL_STEP = `
set -eu
test "$MLOE_STEP_ID" = step1 && test "$MLOE_WORKFLOW_ID" = run-1
factor=$(sed -n 's/.*"factor": *\\([0-9]*\\).*/\\1/p' "$MLOE_PARAMS_FILE")
total=0
count=0
while read -r n; do
  echo $((n * factor)) >> "$MLOE_OUTPUTS_DIR/doubled"
  total=$((total + n * factor))
  count=$((count + 1))
done < "$MLOE_INPUTS_DIR/numbers"
printf '{"count": %s}' "$count" > "$MLOE_OUTPUTS_DIR/outputs.json"
printf '{"total": %s, "label_is": %s}' "$total" "$(wc -c < inputs/label | tr -d ' ')" > "$MLOE_OUTPUTS_DIR/metrics.json"
echo "processed with $SECRET_TOKEN_LEN"
echo "a warning" >&2
`;

const PYTHON_STEP = `
import json, os, pathlib
params = json.loads(pathlib.Path(os.environ["MLOE_PARAMS_FILE"]).read_text())
inputs = json.loads(pathlib.Path(os.environ["MLOE_INPUTS_FILE"]).read_text())
numbers = [float(x) for x in pathlib.Path(os.environ["MLOE_INPUTS_DIR"], "numbers").read_text().split()]
scaled = [x * params["factor"] for x in numbers]
out = pathlib.Path(os.environ["MLOE_OUTPUTS_DIR"])
(out / "model").write_text(json.dumps({"weights": scaled}))
(out / "outputs.json").write_text(json.dumps({"n": len(scaled), "label": inputs["label"]}))
(out / "metrics.json").write_text(json.dumps({"mean": sum(scaled) / len(scaled)}))
print("python step done")
`;

describe('runCommandStep', () => {
  it('runs a shell script step: input file and param in, artifact, scalar and metrics out, logs stored', async () => {
    const { store, request, dir } = await setup({ command: [] });
    const script = join(dir, 'step.sh');
    await writeFile(script, SHELL_STEP);
    const numbers = await store.put('1\n2\n3\n', { type: 'dataset' });
    const result = await runCommandStep({
      ...request,
      command: ['sh', script],
      env: { SECRET_TOKEN_LEN: '42' },
      params: { factor: 2 },
      inputs: { numbers, label: 'abc' },
      outputs: { doubled: { type: 'dataset' }, count: { type: 'integer' } },
    });

    const doubled = asRef(result.outputs.doubled);
    expect(doubled.type).toBe('dataset');
    expect(doubled.metadata).toEqual({ stepId: 'step1', workflowId: 'run-1', output: 'doubled' });
    expect(await getText(store, doubled)).toBe('2\n4\n6\n');
    expect(result.outputs.count).toBe(3);
    expect(result.metrics).toEqual({ total: 12, label_is: 3 });
    expect(result.exitCode).toBe(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(await getText(store, asRef(result.logs.stdout))).toBe('processed with 42\n');
    expect(await getText(store, asRef(result.logs.stderr))).toBe('a warning\n');
  });

  // Collected only where python3 exists (CI has 3.11); an empty it.each table would be an error in jest.
  for (const python of hasPython ? ['python3'] : []) {
    it(`runs a Python script step (${python})`, async () => {
      const { store, request, dir } = await setup({ command: [] });
      const script = join(dir, 'step.py');
      await writeFile(script, PYTHON_STEP);
      const numbers = await store.put('1 2 3 4\n', { type: 'dataset' });
      const result = await runCommandStep({
        ...request,
        command: [python, script],
        workingDir: dir,
        params: { factor: 0.5 },
        inputs: { numbers, label: 'housing' },
        outputs: { model: { type: 'model' }, n: { type: 'integer' }, label: { type: 'string' } },
      });
      expect(JSON.parse(await getText(store, asRef(result.outputs.model)))).toEqual({ weights: [0.5, 1, 1.5, 2] });
      expect(result.outputs).toMatchObject({ n: 4, label: 'housing' });
      expect(result.metrics).toEqual({ mean: 1.25 });
      expect(await getText(store, asRef(result.logs.stdout))).toBe('python step done\n');
    });
  }

  it('fails a non-zero exit with STEP_COMMAND_FAILED, the exit code and the last 20 lines of stderr', async () => {
    const { request, store } = await setup({
      command: ['sh', '-c', 'for i in $(seq 1 50); do echo "line $i" >&2; done; exit 3'],
    });
    const error = await expectMloeError(runCommandStep(request), 'STEP_COMMAND_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('exited with code 3');
    expect(error.message).toContain('line 31\nline 32');
    expect(error.message).toMatch(/line 50$/);
    expect(error.message).not.toContain('line 30\n');
    // The full log is stored and named in the message.
    const uri = /full stderr: (\S+)\)/.exec(error.message)?.[1];
    expect(uri).toBeDefined();
    expect((await getText(store, uri ?? '')).split('\n')).toHaveLength(51);
  });

  it('reports a command killed by a signal', async () => {
    const { request } = await setup({ command: ['sh', '-c', 'echo dying >&2; kill -KILL $$'] });
    const error = await expectMloeError(runCommandStep(request), 'STEP_COMMAND_FAILED');
    expect(error.message).toContain('killed by SIGKILL');
    expect(error.message).toContain('dying');
  });

  it('fails a missing executable with a non-retryable STEP_COMMAND_NOT_FOUND', async () => {
    const { request } = await setup({ command: ['mloe-no-such-command-xyz', '--flag'] });
    const error = await expectMloeError(runCommandStep(request), 'STEP_COMMAND_NOT_FOUND');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('mloe-no-such-command-xyz');
    const dir = await temporaryDirectory();
    const notExecutable = join(dir, 'script.sh');
    await writeFile(notExecutable, 'echo hi\n', { mode: 0o644 });
    await expectMloeError(runCommandStep({ ...request, command: [notExecutable] }), 'STEP_COMMAND_NOT_FOUND');
  });

  it('fails a declared output the process did not write with STEP_OUTPUT_MISSING naming it', async () => {
    const { request } = await setup({
      command: ['sh', '-c', 'echo data > "$MLOE_OUTPUTS_DIR/present"'],
      outputs: { present: { type: 'file' }, model: { type: 'model' } },
    });
    const error = await expectMloeError(runCommandStep(request), 'STEP_OUTPUT_MISSING');
    expect(error.message).toContain('"model"');

    const scalar = await expectMloeError(
      runCommandStep({ ...request, outputs: { accuracy: { type: 'number' } } }),
      'STEP_OUTPUT_MISSING',
    );
    expect(scalar.message).toContain('"accuracy"');
  });

  it('rejects malformed outputs.json and metrics.json, and outputs that are links', async () => {
    const { request } = await setup({ command: [] });
    const write = (file: string, text: string): string[] => [
      'sh',
      '-c',
      `printf '%s' '${text}' > "$MLOE_OUTPUTS_DIR/${file}"`,
    ];
    await expectMloeError(
      runCommandStep({ ...request, command: write('metrics.json', '{"loss": "low"}') }),
      'STEP_OUTPUT_INVALID',
    );
    await expectMloeError(
      runCommandStep({ ...request, command: write('metrics.json', '[1, 2]') }),
      'STEP_OUTPUT_INVALID',
    );
    await expectMloeError(
      runCommandStep({ ...request, command: write('outputs.json', '{"n": 1.5}'), outputs: { n: { type: 'integer' } } }),
      'STEP_OUTPUT_INVALID',
    );
    await expectMloeError(
      runCommandStep({ ...request, command: write('outputs.json', '{"typo": 1}') }),
      'STEP_OUTPUT_INVALID',
    );
    await expectMloeError(
      runCommandStep({
        ...request,
        command: ['sh', '-c', 'ln -s /etc/passwd "$MLOE_OUTPUTS_DIR/model"'],
        outputs: { model: { type: 'model' } },
      }),
      'STEP_OUTPUT_INVALID',
    );
  });

  it('validates the command and env names without echoing env values', async () => {
    const { request } = await setup({ command: ['true'] });
    await expectMloeError(runCommandStep({ ...request, command: [] }), 'STEP_COMMAND_INVALID');
    await expectMloeError(runCommandStep({ ...request, command: ['echo', 'a\0b'] }), 'STEP_COMMAND_INVALID');
    for (const name of ['1ABC', 'A-B', 'A B', '', 'A=B', 'MLOE_INPUTS_DIR']) {
      const error = await expectMloeError(
        runCommandStep({ ...request, env: { [name]: 'hunter2-secret' } }),
        'STEP_COMMAND_INVALID',
      );
      expect(error.message).not.toContain('hunter2-secret');
    }
    const nul = await expectMloeError(
      runCommandStep({ ...request, env: { TOKEN: 'hunter2\0secret' } }),
      'STEP_COMMAND_INVALID',
    );
    expect(nul.message).toContain('TOKEN');
    expect(nul.message).not.toContain('hunter2');
    await expectMloeError(runCommandStep({ ...request, workingDir: 'relative/dir' }), 'PATH_INVALID');
    await expectMloeError(runCommandStep({ ...request, workingDir: '/no/such/dir/xyz' }), 'STEP_COMMAND_INVALID');
    // Valid names pass, and the worker's own environment does not leak into the step.
    process.env.MLOE_TEST_WORKER_SECRET = 'leaked';
    try {
      const result = await runCommandStep({
        ...request,
        command: ['sh', '-c', 'echo "${_ok_1:-}${MLOE_TEST_WORKER_SECRET:-clean}"'],
        env: { _ok_1: 'x' },
      });
      expect(await getText(new FileArtifactStore({ root: storeRoot(request) }), asRef(result.logs.stdout))).toBe(
        'xclean\n',
      );
    } finally {
      delete process.env.MLOE_TEST_WORKER_SECRET;
    }
  });

  it('verifies input artifacts against their digest before the command runs', async () => {
    const { request, store } = await setup({ command: ['sh', '-c', 'echo ran > "$MLOE_OUTPUTS_DIR/out"'] });
    const ref = await store.put('original bytes', { type: 'dataset' });
    await writeFile(store.pathOf(ref.digest), 'tampered bytes'); // same size, other content
    await expectMloeError(runCommandStep({ ...request, inputs: { data: ref } }), 'ARTIFACT_CORRUPT');
  });

  it('streams a large stdout (100 MB) to a log artifact without holding it in memory', async () => {
    // Measured in a fresh process: forced collections there are cheap, whatever this test worker has loaded.
    const dir = await temporaryDirectory();
    const main = join(__dirname, 'fixtures', 'runner-memory-main.ts');
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', main, dir], {
      encoding: 'utf8',
      timeout: 50_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const report = JSON.parse(child.stdout) as {
      peak: number;
      stdout: CommandStepResult['logs']['stdout'];
      stderr: CommandStepResult['logs']['stderr'];
    };
    const store = new FileArtifactStore({ root: join(dir, 'artifacts') });
    const stdout = asRef(report.stdout);
    expect(stdout.size).toBe(100_000_000);
    const expected = createHash('sha256');
    const megabyte = Buffer.alloc(1_000_000, 'a');
    for (let i = 0; i < 100; i++) expected.update(megabyte);
    expect(stdout.digest).toBe(`sha256:${expected.digest('hex')}`);
    expect(await store.verify(stdout)).toBe('intact');
    expect((await getBytes(store, asRef(report.stderr))).toString()).toBe('done\n');
    // Freed buffers are swept concurrently, so a sample can still count a few recent chunks (up to ~30 MB seen at
    // full speed); buffering the output would keep up to 100 MB alive.
    expect(report.peak).toBeLessThan(50_000_000);
  });

  it('heartbeats while a long step runs', async () => {
    const { request, dir } = await setup({ command: [] });
    const stop = join(dir, 'stop');
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 300 });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => {
      beats.push(details);
      if (beats.length === 3) void writeFile(stop, '');
    });
    const result = await env.run<[], CommandStepResult, () => Promise<CommandStepResult>>(() =>
      runCommandStep({ ...request, command: ['sh', '-c', `while [ ! -e '${stop}' ]; do sleep 0.05; done`] }),
    );
    expect(result.exitCode).toBe(0);
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats[0]).toMatchObject({ stepId: 'step1', pid: expect.any(Number) as number });
  });

  it('kills the whole process group, grandchildren included, when the activity is cancelled', async () => {
    const { request, dir } = await setup({ command: [] });
    const pidsFile = join(dir, 'pids');
    const script = join(dir, 'tree.sh');
    // A background grandchild, a foreground one, and a leader that ignores SIGTERM (so SIGKILL is needed too).
    await writeFile(
      script,
      `trap '' TERM\nsleep 300 & bg=$!\nsh -c 'echo $$ > "$1.fgtmp" && mv "$1.fgtmp" "$1.fg"; exec sleep 300' fg "${pidsFile}" &\nfg=$!\n` +
        `echo "$$ $bg" > "${pidsFile}.tmp" && mv "${pidsFile}.tmp" "${pidsFile}"\nwait\n`,
    );
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 3_000 });
    let groupId: number | undefined;
    const running = env.run(() =>
      runCommandStep(
        { ...request, command: ['sh', script] },
        { killGracePeriodMs: 300, onSpawn: (pid) => (groupId = pid) },
      ),
    );
    const leaderAndBackground = await pollUntil(
      'the pids of the leader and its background child',
      () => readFile(pidsFile, 'utf8'),
      { timeoutMs: 20_000 },
    );
    const [leader, background] = leaderAndBackground.trim().split(' ').map(Number);
    const foreground = Number(
      await pollUntil('the pid of the foreground child', () => readFile(`${pidsFile}.fg`, 'utf8'), {
        timeoutMs: 20_000,
      }),
    );
    expect(groupId).toBe(leader);
    const pids = [leader, background, foreground] as number[];
    for (const pid of pids) expect((await processState(pid))?.pgrp).toBe(leader);

    env.cancel();
    const error = await rejectionOf(running);
    expect(error).toBeInstanceOf(CancelledFailure);
    for (const pid of pids) {
      const state = await processState(pid);
      // Gone, or a zombie waiting for a non-reaping PID 1: either way nothing runs.
      expect(state === undefined || state.state === 'Z').toBe(true);
    }
    expect(await liveGroupMembers(leader ?? 0)).toEqual([]);
  });

  it('leaves no background process behind when the command exits normally, and cleans its directory', async () => {
    const { request, dir } = await setup({ command: [] });
    const pidFile = join(dir, 'bg');
    let groupId = 0;
    const result = await runCommandStep(
      {
        ...request,
        command: ['sh', '-c', `sleep 300 > /dev/null 2>&1 & echo $! > '${pidFile}'; echo "$PWD" > '${pidFile}.cwd'`],
      },
      { killGracePeriodMs: 300, onSpawn: (pid) => (groupId = pid) },
    );
    expect(result.exitCode).toBe(0);
    const state = await processState(Number(await readFile(pidFile, 'utf8')));
    expect(state === undefined || state.state === 'Z').toBe(true);
    expect(await liveGroupMembers(groupId)).toEqual([]);
    const workDir = (await readFile(`${pidFile}.cwd`, 'utf8')).trim();
    expect(workDir.startsWith(tmpdir())).toBe(true);
    expect(await readIfExists(join(workDir, 'params.json'))).toBeUndefined();
    await expect(readdir(dirname(workDir))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

function storeRoot(request: CommandStepRequest): string {
  return new URL(request.artifactRoot).pathname;
}
