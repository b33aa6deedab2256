/**
 * The Kubernetes executor's configuration, parsed once with zod: which cluster (a kubeconfig file, the default
 * loading rules — `KUBECONFIG`, `~/.kube/config`, in-cluster service account — or a kubeconfig text), the default
 * namespace, the staging image and the job's clean-up and grace settings.
 */
import { z } from 'zod';

import { ConfigError } from '../../../core/errors';

/** The image of the stage-in and stage-out containers: it needs `sh`, `curl` (7.71+) and `sha256sum`. */
export const DEFAULT_STAGING_IMAGE = 'curlimages/curl:8.11.1';

/** The executor's settings. */
export const kubernetesExecutorConfigSchema = z.strictObject({
  /** A kubeconfig file; absent, the client's default loading rules (KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeconfigPath: z.string().min(1).optional(),
  /** A kubeconfig as text (tests); wins over `kubeconfigPath`. */
  kubeconfig: z.string().min(1).optional(),
  /** Where jobs go when the step names no namespace; absent, the kubeconfig context's, else `default`. */
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a namespace name')
    .max(63)
    .optional(),
  stagingImage: z.string().min(1).default(DEFAULT_STAGING_IMAGE),
  /** The Temporal namespace of the worker's runs, written on every job for the orphan sweep (`../sweep.ts`). */
  temporalNamespace: z.string().min(1).default('default'),
  /** `ttlSecondsAfterFinished` of every job: the TTL controller deletes finished jobs (and pods) after it. */
  ttlSecondsAfterFinished: z.int().min(0).default(3600),
  /** The pod's `terminationGracePeriodSeconds`: how long the stage-out container has to upload outputs. */
  terminationGracePeriodSeconds: z.int().min(1).default(600),
  /** How long to wait for the stage-out manifest after the job completed, in ms. */
  manifestWaitMs: z.int().min(0).default(30_000),
  /** How long a cancellation waits for the job's pods to be gone, in ms. */
  deleteWaitMs: z.int().min(0).default(120_000),
  /** Polling interval while waiting for deletions and manifests, in ms. */
  pollIntervalMs: z.int().min(10).default(500),
});

/** Settings as written. */
export type KubernetesExecutorConfigInput = z.input<typeof kubernetesExecutorConfigSchema>;
/** Settings with defaults. */
export type KubernetesExecutorConfig = z.output<typeof kubernetesExecutorConfigSchema>;

/** Parses the settings; a `CONFIG_INVALID` error lists every problem. */
export function parseKubernetesExecutorConfig(input: unknown): KubernetesExecutorConfig {
  const parsed = kubernetesExecutorConfigSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    `invalid Kubernetes executor settings: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`,
  );
}
