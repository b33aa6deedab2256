/**
 * Scripted outcomes of the simulated kubelet, chosen by the main container's image: `mloe-test/<scenario>[:tag]`
 * (any registry prefix). Every other image runs its command as a local process. The states each scenario produces
 * are those the upstream API reports (core/v1 `ContainerStateWaiting`/`ContainerStateTerminated` reasons, pod
 * `status.reason`, the `DisruptionTarget` condition).
 */

/** What the simulated kubelet does with a pod. */
export type Scenario =
  /** Runs the containers' commands as local processes (the default for any other image). */
  | 'local'
  /** The image cannot be pulled: `ErrImagePull`, then `ImagePullBackOff`, forever (the pod stays Pending). */
  | 'imagepull'
  /** The main container is killed by the kernel's OOM killer: terminated, reason `OOMKilled`, exit code 137. */
  | 'oom'
  /** The kubelet evicts the pod under node pressure: phase Failed, reason `Evicted`. */
  | 'evicted'
  /** The node stops reporting: the pod gets `DisruptionTarget` (`DeletionByTaintManager`), fails and is deleted. */
  | 'node-lost'
  /** Runs until deleted, without a process (for deadlines, cancellation and watch benchmarks). */
  | 'hang'
  /** Runs for `mloe.dev/test-duration-ms` (pod annotation; 0 by default) and exits 0, without a process. */
  | 'succeed';

const SCRIPTED: readonly Scenario[] = ['imagepull', 'oom', 'evicted', 'node-lost', 'hang', 'succeed'];

/** The scenario of an image: `mloe-test/oom:1` is `oom`; anything else is `local`. */
export function scenarioOf(image: string | undefined): Scenario {
  const match = /(?:^|\/)mloe-test\/([a-z-]+)(?::[^/]*)?$/.exec(image ?? '');
  const name = match?.[1] as Scenario | undefined;
  return name !== undefined && SCRIPTED.includes(name) ? name : 'local';
}
