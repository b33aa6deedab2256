/**
 * Data-arrival triggers against an S3-compatible server (s3rver) with real workers on the jest dev server: a pattern
 * filters keys; partitions start a run once their marker appears; `maxRunsPerHour` holds runs back; a debounce window
 * makes one run of a burst; a `file://` directory works as well; pause, unpause and delete; and bad input is refused
 * before anything starts. The 1,000-object burst is in triggers-burst.test.ts, crashes and restarts in
 * triggers-crash.test.ts; the setup they share is test/support/triggers-harness.ts. */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { WorkflowNotFoundError, type Client } from '@temporalio/client';

import { buildProgram } from '../clients/cli';
import {
  createTrigger,
  deleteTrigger,
  describeTrigger,
  listTriggers,
  pauseTrigger,
  unpauseTrigger,
  type CreateTriggerOptions,
} from '../clients/triggers';
import { triggerWorkflowId, type TriggerDescription } from '../workflows/trigger-types';
import { serverAddress } from './devserver/harness';
import { pollUntil } from './support/poll';
import {
  TRIGGER_BUCKET as BUCKET,
  startTriggerSuite,
  triggerSpec as spec,
  type TriggerSuite,
  type TriggeredRun,
} from './support/triggers-harness';

jest.setTimeout(600_000);

describe('data-arrival triggers', () => {
  let suite: TriggerSuite;
  let client: Client;
  let root: string;
  let taskQueue: string;
  let suffix: string;

  beforeAll(async () => {
    suite = await startTriggerSuite();
    ({ client, root, taskQueue, suffix } = suite);
  });

  afterAll(async () => {
    await suite?.stop();
  });

  const create = (name: string, options: Partial<CreateTriggerOptions> & { on: string }) => suite.create(name, options);
  const put = (key: string, body?: string | Uint8Array): Promise<string> => suite.put(key, body);
  const runsOf = (trigger: string): Promise<TriggeredRun[]> => suite.runsOf(trigger);
  const describeWhen = (name: string, what: string, check: (d: TriggerDescription) => boolean, timeoutMs?: number) =>
    suite.describeWhen(name, what, check, timeoutMs);

  /** Waits until the trigger has listed `polls` more times: whatever was there has been seen. */
  const pollsLater = async (name: string, polls = 2): Promise<void> => {
    const now = (await describeTrigger(client, name)).counters.polls;
    await describeWhen(name, `${polls} more polls of ${name}`, (d) => d.counters.polls >= now + polls);
  };

  it('starts runs only for keys matching --pattern', async () => {
    const name = `pattern-${suffix}`;
    await create('pattern', { on: `s3://${BUCKET}/pattern/`, pattern: '**/*.csv' });
    await describeWhen(name, 'the baseline listing', (d) => d.counters.polls >= 1);
    await Promise.all(['pattern/a.csv', 'pattern/b.json', 'pattern/sub/c.csv', 'pattern/sub/d.txt'].map((k) => put(k)));
    await pollUntil('two runs', async () => (await runsOf(name)).length >= 2, { timeoutMs: 60_000 });
    await pollsLater(name);
    const runs = await runsOf(name);
    expect(runs.map((run) => run.uri).sort()).toEqual([
      `s3://${BUCKET}/pattern/a.csv`,
      `s3://${BUCKET}/pattern/sub/c.csv`,
    ]);
    await deleteTrigger(client, name);
  });

  it('starts one run per partition once its marker appears', async () => {
    const name = `parts-${suffix}`;
    await create('parts', { on: `s3://${BUCKET}/parts/`, marker: '_SUCCESS' });
    await describeWhen(name, 'the baseline listing', (d) => d.counters.polls >= 1);
    await Promise.all(['parts/day=1/part-0', 'parts/day=1/part-1', 'parts/day=2/part-0'].map((k) => put(k)));
    await put('parts/day=1/_SUCCESS', new Uint8Array(0));
    await pollUntil('the first partition run', async () => (await runsOf(name)).length >= 1, { timeoutMs: 60_000 });
    await pollsLater(name);
    expect((await runsOf(name)).map((run) => run.uri)).toEqual([`s3://${BUCKET}/parts/day=1/`]);
    await put('parts/day=2/_SUCCESS', new Uint8Array(0));
    await pollUntil('the second partition run', async () => (await runsOf(name)).length >= 2, { timeoutMs: 60_000 });
    expect((await runsOf(name)).map((run) => run.uri).sort()).toEqual([
      `s3://${BUCKET}/parts/day=1/`,
      `s3://${BUCKET}/parts/day=2/`,
    ]);
    await deleteTrigger(client, name);
  });

  it('holds runs back beyond --max-runs-per-hour', async () => {
    const name = `capped-${suffix}`;
    await create('capped', { on: `s3://${BUCKET}/capped/`, maxRunsPerHour: 3 });
    await describeWhen(name, 'the baseline listing', (d) => d.counters.polls >= 1);
    await Promise.all([1, 2, 3, 4, 5].map((i) => put(`capped/${i}.csv`)));
    // Seen in one poll; the runs are started after it, by an activity: wait for both.
    await describeWhen(
      name,
      'three runs and two waiting',
      (d) => d.counters.objectsSeen >= 5 && d.counters.runsStarted >= 3,
    );
    await pollsLater(name);
    const later = await describeTrigger(client, name);
    expect(later).toMatchObject({ pending: 2, runsLastHour: 3 });
    expect(later.counters.runsStarted).toBe(3);
    expect(await runsOf(name)).toHaveLength(3);
    await deleteTrigger(client, name);
  });

  it('makes one run of a burst within the debounce window, with a manifest of its objects', async () => {
    const name = `grouped-${suffix}`;
    await create('grouped', {
      on: `s3://${BUCKET}/grouped/`,
      debounce: '3s',
      objectsParam: 'objects',
      spec: { ...spec, params: { ...spec.params, objects: { type: 'string' } } },
    });
    await describeWhen(name, 'the baseline listing', (d) => d.counters.polls >= 1);
    const etags = new Map<string, string>();
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) =>
        etags.set(`s3://${BUCKET}/grouped/${i}.json`, await put(`grouped/${i}.json`)),
      ),
    );
    const [run] = await pollUntil(
      'the burst run',
      async () => {
        const runs = await runsOf(name);
        return runs.length >= 1 ? runs : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await pollsLater(name);
    expect(await runsOf(name)).toHaveLength(1);
    expect(run).toMatchObject({ uri: `s3://${BUCKET}/grouped/`, objects: 10 });
    // The run's `objects` parameter is the URI of a manifest in its artifact store listing all ten objects.
    expect(run?.objectsManifest).toMatch(/^file:\/\/.*\/sha256\//);
    const manifest = JSON.parse(await readFile(fileURLToPath(run?.objectsManifest ?? ''), 'utf8')) as {
      kind: string;
      count: number;
      trigger: string;
      on: string;
      objects: { uri: string; etag: string; size: number; lastModified: string }[];
    };
    expect(manifest).toMatchObject({ kind: 'mloe.dev/trigger-objects', count: 10, trigger: name });
    expect(manifest.on).toBe(`s3://${BUCKET}/grouped/`);
    expect(manifest.objects.map((object) => object.uri)).toEqual([...etags.keys()].sort());
    for (const object of manifest.objects) {
      expect(object.etag).toBe(etags.get(object.uri));
      expect(object.size).toBe(object.uri.slice(`s3://${BUCKET}/`.length).length);
      expect(Date.parse(object.lastModified)).not.toBeNaN();
    }
    expect((await describeTrigger(client, name)).lastRuns[0]?.manifest).toBe(run?.objectsManifest);
    await deleteTrigger(client, name);
  });

  it('watches a file:// directory, pauses, unpauses and is deleted', async () => {
    const name = `files-${suffix}`;
    const directory = await mkdtemp(join(tmpdir(), 'mloe-trigger-files-'));
    try {
      await writeFile(join(directory, 'before.csv'), 'old');
      await create('files', { on: pathToFileURL(directory).href });
      await describeWhen(name, 'the baseline listing', (d) => d.counters.polls >= 1);
      // Written under a hidden name, then renamed into place: never seen half-written.
      await writeFile(join(directory, '.new.csv.tmp'), 'a,b\n1,2\n');
      await rename(join(directory, '.new.csv.tmp'), join(directory, 'new.csv'));
      await pollUntil('the file run', async () => (await runsOf(name)).length >= 1, { timeoutMs: 60_000 });
      expect((await runsOf(name)).map((run) => run.uri)).toEqual([pathToFileURL(join(directory, 'new.csv')).href]);

      await pauseTrigger(client, name, 'maintenance');
      await describeWhen(name, 'paused', (d) => d.paused && d.note === 'maintenance');
      await pollUntil('the list says paused', async () =>
        (await listTriggers(client)).some((trigger) => trigger.name === name && trigger.paused),
      );
      await writeFile(join(directory, 'during.csv'), 'x');
      expect(await runsOf(name)).toHaveLength(1);
      await unpauseTrigger(client, name);
      await pollUntil('the run of what arrived while paused', async () => (await runsOf(name)).length >= 2, {
        timeoutMs: 60_000,
      });
      expect((await runsOf(name)).map((run) => run.uri).sort()).toEqual(
        [pathToFileURL(join(directory, 'during.csv')).href, pathToFileURL(join(directory, 'new.csv')).href].sort(),
      );

      await deleteTrigger(client, name);
      expect((await listTriggers(client)).some((trigger) => trigger.name === name)).toBe(false);
      await expect(describeTrigger(client, name)).rejects.toMatchObject({ code: 'TRIGGER_NOT_FOUND' });
      await expect(deleteTrigger(client, name)).rejects.toMatchObject({ code: 'TRIGGER_NOT_FOUND' });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('refuses bad input before anything is created', async () => {
    const on = `s3://${BUCKET}/refused/`;
    const cases: [Partial<CreateTriggerOptions> & { on: string }, string, RegExp][] = [
      [{ on: 'http://example.com/data/' }, 'PATH_INVALID', /--on must be s3:\/\/bucket\/prefix\//],
      [{ on: 's3://Bad_Bucket/x/' }, 'PATH_INVALID', /invalid S3 bucket name/],
      [{ on, pattern: 'data/[abc' }, 'CONFIG_INVALID', /invalid --pattern "data\/\[abc": Missing closing: "\]"/],
      [{ on, pattern: 'a**/b' }, 'CONFIG_INVALID', /'\*\*' must be a whole path segment/],
      [{ on, poll: 'soon' }, 'CONFIG_INVALID', /--poll "soon" is not a duration/],
      [{ on, debounce: '-1s' }, 'CONFIG_INVALID', /--debounce "-1s" is not a duration/],
      [{ on, maxRunsPerHour: 0 }, 'CONFIG_INVALID', /--max-runs-per-hour must be a whole number/],
      [{ on, marker: 'a/_SUCCESS' }, 'CONFIG_INVALID', /--marker must be an object name/],
      [{ on, uriParam: 'path' }, 'CONFIG_INVALID', /declares no parameter 'path'/],
      [{ on, objectsParam: 'objects' }, 'CONFIG_INVALID', /--objects-param needs --debounce/],
      [{ on, debounce: '1s', objectsParam: 'uri' }, 'CONFIG_INVALID', /must name different parameters/],
      [
        { on, debounce: '1s', objectsParam: 'objects' },
        'CONFIG_INVALID',
        /declares no parameter 'objects'.*--objects-param/,
      ],
      [{ on, spec: { ...spec, steps: { note: { uses: 'nope@1' } } } }, 'SPEC_INVALID', /nope/],
    ];
    for (const [options, code, message] of cases) {
      const refused = create('refused', options);
      await expect(refused).rejects.toMatchObject({ code });
      await expect(refused).rejects.toThrow(message);
    }
    await expect(createTrigger(client, { spec, name: 'Bad Name', on })).rejects.toThrow(/invalid trigger name/);
    await expect(client.workflow.getHandle(triggerWorkflowId(`refused-${suffix}`)).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );

    await create('taken', { on });
    await expect(create('taken', { on })).rejects.toMatchObject({ code: 'TRIGGER_EXISTS' });
    await deleteTrigger(client, `taken-${suffix}`);
  });

  it('is driven from the command line: create, list, describe, pause, unpause, delete', async () => {
    const mloe = async (...args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> => {
      const stdout: string[] = [];
      const stderr: string[] = [];
      let code = 0;
      const program = buildProgram(
        { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) },
        (exitCode) => {
          code = exitCode;
        },
        { TEMPORAL_ADDRESS: serverAddress(), MLOE_TASK_QUEUE: taskQueue },
      );
      program.exitOverride();
      program.configureOutput({ writeErr: (text) => stderr.push(text.trimEnd()), writeOut: () => undefined });
      try {
        await program.parseAsync(['node', 'mloe', ...args]);
      } catch (error) {
        code = (error as { exitCode?: number }).exitCode ?? 1;
      }
      return { code, stdout, stderr };
    };
    const file = join(root, 'on-arrival.json');
    // The CLI validates with the built-in steps: a spec of those (no run starts here).
    await writeFile(
      file,
      JSON.stringify({ ...spec, steps: { ingest: { uses: 'ingest@1', with: { dataPath: '${{ params.uri }}' } } } }),
    );
    const name = `cli-${suffix}`;
    const on = `s3://${BUCKET}/cli/`;
    const created = await mloe(
      'trigger',
      'create',
      name,
      file,
      '--on',
      on,
      '--pattern',
      '*.csv',
      '--poll',
      '5s',
      '--max-runs-per-hour',
      '10',
      '--artifact-root',
      root,
    );
    expect(created).toMatchObject({ code: 0, stderr: [] });
    expect(created.stdout.join('\n')).toMatch(
      new RegExp(`trigger ${name} created: pipeline on-arrival \\(sha256:[0-9a-f]{64}\\) on ${on}`),
    );

    const again = await mloe('trigger', 'create', name, file, '--on', on);
    expect(again.code).toBe(1);
    expect(again.stderr.join('\n')).toMatch(/a trigger named .* exists already/);
    const bad = await mloe('trigger', 'create', `bad-${suffix}`, file, '--on', on, '--debounce', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr.join('\n')).toMatch(/--debounce "soon" is not a duration/);

    const listed = await mloe('trigger', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout.find((line) => line.startsWith(name))).toMatch(
      /on-arrival\s+s3:\/\/incoming\/cli\/\s+\*\.csv\s+5000 ms\s+active/,
    );

    expect((await mloe('trigger', 'pause', name, '--note', 'backfill first')).stdout).toEqual([
      `trigger ${name} paused`,
    ]);
    const described = await pollUntil('describe says paused', async () => {
      const result = await mloe('trigger', 'describe', name);
      return result.stdout.some((line) => line.includes('paused: backfill first')) ? result : undefined;
    });
    expect(described.stdout.join('\n')).toMatch(/at most 10 runs an hour/);
    const json = await mloe('trigger', 'describe', name, '--json');
    expect(JSON.parse(json.stdout.join('\n'))).toMatchObject({
      paused: true,
      settings: { name, on, pattern: '*.csv' },
    });
    expect((await mloe('trigger', 'unpause', name)).code).toBe(0);
    expect((await mloe('trigger', 'delete', name)).stdout).toEqual([`trigger ${name} deleted`]);
    const gone = await mloe('trigger', 'describe', name);
    expect(gone.code).toBe(1);
    expect(gone.stderr.join('\n')).toMatch(/no trigger named/);
  });
});
