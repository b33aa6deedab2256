/**
 * The simulated kubelet's containers: each container of a `local` pod runs its `command` + `args` as a local process
 * group, with the container's `env` (`$(VAR)` references expanded as Kubernetes does), its `emptyDir` volumes as
 * fresh local directories, and its combined stdout and stderr kept as the container log. Mount paths are emulated by
 * rewriting every env value, argument and `workingDir` that starts with a mount path to the volume's directory (there
 * is no container file system to mount into).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

/** A container as the pod spec gives it (the fields this simulator reads). */
export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  workingDir?: string;
  volumeMounts?: { name: string; mountPath: string }[];
  restartPolicy?: string;
}

/** A container's log: bytes so far, and an event per chunk and at the end. */
export class ContainerLog extends EventEmitter {
  private readonly chunks: Buffer[] = [];
  ended = false;

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.emit('data', chunk);
  }

  end(): void {
    this.ended = true;
    this.emit('end');
  }

  /** Everything logged so far. */
  text(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Variables a local container inherits so that interpreters can be found. */
const INHERITED = ['PATH', 'HOME', 'LANG', 'TZ'];

/** Rewrites a path under a mount path to the volume's local directory. */
function mapper(mounts: ContainerSpec['volumeMounts'], volumes: ReadonlyMap<string, string>): (text: string) => string {
  const rules = (mounts ?? [])
    .map((mount) => ({ from: mount.mountPath.replace(/\/+$/, ''), to: volumes.get(mount.name) }))
    .filter((rule): rule is { from: string; to: string } => rule.to !== undefined)
    .sort((a, b) => b.from.length - a.from.length);
  return (text) => {
    for (const rule of rules) {
      if (text === rule.from) return rule.to;
      if (text.startsWith(`${rule.from}/`)) return rule.to + text.slice(rule.from.length);
    }
    return text;
  };
}

/** `$(VAR)` references expanded from the container's env; `$$(VAR)` escapes, unknown references stay as written. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? whole),
  );
}

/** A started container process. */
export interface RunningContainer {
  readonly process: ChildProcess;
  readonly exited: Promise<{ exitCode: number; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`, to the whole group. */
  terminate(graceMs: number): Promise<void>;
}

/** Starts a container's command; resolves once spawned, or rejects when it cannot be run. */
export async function startContainer(
  container: ContainerSpec,
  volumes: ReadonlyMap<string, string>,
  defaultCwd: string,
  log: ContainerLog,
): Promise<RunningContainer> {
  const map = mapper(container.volumeMounts, volumes);
  const env: Record<string, string> = {};
  for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name];
  for (const variable of container.env ?? []) env[variable.name] = map(expand(variable.value ?? '', env));
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map((arg) => map(expand(arg, env)));
  if (argv.length === 0)
    throw new Error(`container ${container.name} has no command (the simulator has no image entrypoints)`);
  const child = spawn(argv[0] ?? '', argv.slice(1), {
    cwd: container.workingDir === undefined ? defaultCwd : map(container.workingDir),
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.stdout?.on('data', (chunk: Buffer) => log.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => log.append(chunk));
  const exited = new Promise<{ exitCode: number; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ exitCode: code ?? 128 + 9, signal }));
  });
  const groupKill = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  return {
    process: child,
    exited,
    async terminate(graceMs) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      groupKill('SIGTERM');
      const timer = setTimeout(() => groupKill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
