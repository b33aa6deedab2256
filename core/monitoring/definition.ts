/**
 * A drift monitor as stored in its Temporal Schedule and handed to each tick: which model it watches, the reference
 * data, where the current data comes from, the thresholds, and how often retraining may start. Pure: parsed with zod
 * by the client (`clients/monitors.ts`) before anything is created, and read by the `monitorModel` workflow.
 */
import { z } from 'zod';

/** The workflow type of a monitor's tick. */
export const MONITOR_WORKFLOW_TYPE = 'monitorModel';

/** A monitor's Temporal Schedule id (and the prefix of its ticks' workflow ids): `mloe-monitor-<name>`. */
export function monitorScheduleId(name: string): string {
  return `mloe-monitor-${name}`;
}

/** The workflow id of the retraining run of a monitor's drift episode: one run per episode, ever. */
export function retrainWorkflowId(name: string, episode: string): string {
  return `${name}-retrain-${episode}`;
}

/** A monitor's name: lower-case letters, digits and `-`, starting with a letter, at most 63 (it names ids and files). */
export const MONITOR_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** Where a tick's current data comes from. */
export const currentSourceSchema = z.discriminatedUnion('kind', [
  /** A data batch (Parquet, CSV or JSON) at a location read anew each tick: the latest batch an upstream job wrote. */
  z.object({ kind: z.literal('batch'), uri: z.string().min(1) }).strict(),
  /** The sampled request logs of `mloe serve` for the model, from the last `windowMs` before the tick. */
  z.object({ kind: z.literal('serving'), windowMs: z.number().int().positive() }).strict(),
]);

/** {@link currentSourceSchema}'s type. */
export type CurrentSource = z.infer<typeof currentSourceSchema>;

/** The monitor definition. */
export const monitorDefinitionSchema = z
  .object({
    name: z.string().regex(MONITOR_NAME_PATTERN),
    /** The registered model and the alias that names the deployed version. */
    model: z.string().min(1),
    alias: z.string().min(1),
    /** The reference (training) data: an absolute path, `file://` or `s3://` URI of Parquet, CSV or JSON. */
    reference: z.string().min(1),
    current: currentSourceSchema,
    /** The columns compared; every column the reference and the current data share (but `exclude`) when absent. */
    features: z.array(z.string().min(1)).min(1).optional(),
    /** Columns never compared (the label, identifiers, times). */
    exclude: z.array(z.string().min(1)).default([]),
    thresholds: z
      .object({
        psi: z.number().positive(),
        ksPValue: z.number().gt(0).lt(1).optional(),
        chiSquarePValue: z.number().gt(0).lt(1).optional(),
      })
      .strict(),
    /**
     * Performance drift when the current data carries labels: the deployed model scores it and its evaluation data
     * (a path or URI of the held-out rows it was evaluated on); more than `maxDegradation` lost (accuracy points, or
     * RMSE gained) is drift too.
     */
    performance: z
      .object({ label: z.string().min(1), evaluation: z.string().min(1), maxDegradation: z.number().nonnegative() })
      .strict()
      .optional(),
    /** Drift is declared when at least this many features drifted. */
    minDriftedFeatures: z.number().int().positive().default(1),
    /** Fewer current rows than this decide nothing (the tick reports `insufficient-data`). */
    minRows: z.number().int().positive().default(30),
    /** Quantile bins of numeric features (fewer when the reference has ties). */
    bins: z.number().int().min(2).max(100).default(10),
    everyMs: z.number().int().positive(),
    /** After a retraining run starts, no other starts for this long. */
    cooldownMs: z.number().int().nonnegative(),
    /** At most this many retraining runs start per UTC day. */
    maxRunsPerDay: z.number().int().positive(),
    /** The artifact store of the reports and the monitor's state (`file:///…` or `s3://…`). */
    artifactStore: z.string().min(1),
    /** The retraining pipeline, for display: its name, spec file and hash (the pinned input is beside it). */
    pipeline: z.object({ name: z.string(), file: z.string().optional(), specHash: z.string() }).strict(),
  })
  .strict();

/** A parsed monitor definition. */
export type MonitorDefinition = z.infer<typeof monitorDefinitionSchema>;
/** A monitor definition before defaults. */
export type MonitorDefinitionInput = z.input<typeof monitorDefinitionSchema>;
