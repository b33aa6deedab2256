/**
 * Drift episodes and the retraining decision (`core/monitoring/episodes.ts`, pure), and the monitor's check over
 * serving inputs: rows sampled by `mloe serve`'s request log, found through the prediction-log index and compared with
 * the reference by the `checkDrift` activity.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { FileArtifactStore, getJson } from '../activities/artifacts';
import { createMonitorActivities } from '../activities/monitoring/activities';
import { RequestLog } from '../activities/serving/request-log';
import { predictionLogsSince } from '../activities/serving/prediction-log-index';
import { monitorDefinitionSchema } from '../core/monitoring/definition';
import { EMPTY_MONITOR_STATE, decideTick, episodeId, type MonitorState } from '../core/monitoring/episodes';
import { duck } from './support/ml-fixtures';
import { z } from 'zod';

const HOUR = 3_600_000;
const policy = { cooldownMs: 6 * HOUR, maxRunsPerDay: 2 };
const at = (iso: string) => new Date(iso);

describe('drift episodes', () => {
  it('opens an episode at the first drifted tick, starts one run for it, and closes it when drift ends', () => {
    const first = decideTick('m', EMPTY_MONITOR_STATE, 'drifted', at('2026-01-01T10:00:00.000Z'), policy);
    expect(first.decision).toEqual({
      action: 'start',
      episode: '20260101T100000Z',
      workflowId: 'm-retrain-20260101T100000Z',
    });
    const second = decideTick('m', first.state, 'drifted', at('2026-01-01T11:00:00.000Z'), policy);
    expect(second.decision).toEqual({ action: 'none', reason: 'already-retrained', episode: '20260101T100000Z' });
    const closed = decideTick('m', second.state, 'stable', at('2026-01-01T12:00:00.000Z'), policy);
    expect(closed.decision).toEqual({ action: 'none', reason: 'stable' });
    expect(closed.state.episode).toBeUndefined();
    expect(closed.state.runs).toHaveLength(1);
  });

  it('holds a new episode back during the cooldown, then starts its one run', () => {
    let state: MonitorState = decideTick(
      'm',
      EMPTY_MONITOR_STATE,
      'drifted',
      at('2026-01-01T00:00:00.000Z'),
      policy,
    ).state;
    state = decideTick('m', state, 'stable', at('2026-01-01T01:00:00.000Z'), policy).state;
    const held = decideTick('m', state, 'drifted', at('2026-01-01T02:00:00.000Z'), policy);
    expect(held.decision).toEqual({
      action: 'suppressed',
      reason: 'cooldown',
      episode: '20260101T020000Z',
      until: '2026-01-01T06:00:00.000Z',
    });
    const later = decideTick('m', held.state, 'drifted', at('2026-01-01T06:00:00.000Z'), policy);
    expect(later.decision).toEqual({
      action: 'start',
      episode: '20260101T020000Z',
      workflowId: 'm-retrain-20260101T020000Z',
    });
  });

  it('keeps to the daily cap (UTC days), and insufficient data changes nothing', () => {
    const noCooldown = { cooldownMs: 0, maxRunsPerDay: 2 };
    let state: MonitorState = EMPTY_MONITOR_STATE;
    const starts: string[] = [];
    for (const [hour, observation] of [
      [1, 'drifted'],
      [2, 'stable'],
      [3, 'drifted'],
      [4, 'stable'],
      [5, 'drifted'],
    ] as const) {
      const next = decideTick('m', state, observation, at(`2026-01-01T0${hour}:00:00.000Z`), noCooldown);
      if (next.decision.action === 'start') starts.push(next.decision.workflowId);
      state = next.state;
      if (hour === 5) {
        expect(next.decision).toEqual({
          action: 'suppressed',
          reason: 'daily-cap',
          episode: '20260101T050000Z',
          until: '2026-01-02T00:00:00.000Z',
        });
      }
    }
    expect(starts).toEqual(['m-retrain-20260101T010000Z', 'm-retrain-20260101T030000Z']);
    const quiet = decideTick('m', state, 'insufficient-data', at('2026-01-01T06:00:00.000Z'), noCooldown);
    expect(quiet.decision).toEqual({ action: 'none', reason: 'insufficient-data', episode: '20260101T050000Z' });
    const nextDay = decideTick('m', quiet.state, 'drifted', at('2026-01-02T00:00:01.000Z'), noCooldown);
    expect(nextDay.decision).toMatchObject({ action: 'start', episode: '20260101T050000Z' });
  });

  it('names episodes by the second', () => {
    expect(episodeId(at('2026-12-07T05:50:21.386Z'))).toBe('20261207T055021Z');
  });
});

describe('drift of serving inputs', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-monitoring-serving-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('reads the sampled request logs of the model within the window, through the index', async () => {
    const weather = join(__dirname, '..', 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv');
    const reference = join(directory, 'reference.parquet');
    const source = `read_csv('${weather}', header = true)`;
    const [, rows2015 = []] = await duck(
      `COPY (SELECT * FROM ${source} WHERE year(date) = 2012) TO '${reference}' (FORMAT parquet)`,
      `SELECT precipitation, temp_max, temp_min, wind FROM ${source} WHERE year(date) = 2015 ORDER BY date`,
    );
    const store = new FileArtifactStore({ root: join(directory, 'artifacts') });
    const log = new RequestLog({ store, sampleRate: 1, flushRows: 100 });
    for (let i = 0; i < rows2015.length; i += 5) {
      const batch = rows2015.slice(i, i + 5);
      log.record(
        { name: 'weather', version: '3' },
        batch,
        batch.map(() => 'rain'),
      );
    }
    await log.flush();
    // Another server's model, in the same store: not this monitor's.
    log.record({ name: 'another-model', version: '1' }, [{ temp_max: 99 }], ['sun']);
    await log.flush();
    const now = new Date();
    expect(
      (await predictionLogsSince(store, 'weather', new Date(now.getTime() - HOUR).toISOString())).reduce(
        (n, entry) => n + entry.rows,
        0,
      ),
    ).toBe(365);

    const definition = monitorDefinitionSchema.parse({
      name: 'weather-serving',
      model: 'weather',
      alias: 'champion',
      reference: pathToFileURL(reference).href,
      current: { kind: 'serving', windowMs: HOUR },
      thresholds: { psi: 0.2, ksPValue: 0.01 },
      everyMs: HOUR,
      cooldownMs: 0,
      maxRunsPerDay: 1,
      artifactStore: store.rootUri,
      pipeline: { name: 'retrain', specHash: 'sha256:0' },
    });
    const activities = createMonitorActivities({ stores: () => store });
    const check = await activities.checkDrift({
      definition,
      tick: { id: 'tick-1', at: new Date(now.getTime() + 1000).toISOString() },
    });
    expect(check.currentRows).toBe(365);
    expect(check.observation).toBe('drifted');
    expect(check.driftedFeatures).toContain('temp_max');
    const report = await getJson(
      store,
      check.report,
      z
        .object({
          current: z.object({ kind: z.string(), logs: z.array(z.string()) }).loose(),
          skipped: z.array(z.string()),
        })
        .loose(),
      'a drift report',
    );
    expect(report.current.kind).toBe('serving');
    expect(report.current.logs.length).toBeGreaterThan(0);
    expect(report.skipped).toEqual(['date: not in the current data', 'weather: not in the current data']);

    // Two hours on, nothing was logged within the window: no decision either way.
    const later = await activities.checkDrift({
      definition,
      tick: { id: 'tick-2', at: new Date(now.getTime() + 2 * HOUR).toISOString() },
    });
    expect(later.observation).toBe('insufficient-data');
    expect(later.currentRows).toBe(0);
    await store.close();
  });
});
