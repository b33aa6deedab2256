/**
 * What a step costs the worker's host, measured from outside the step: CPU time of the worker process and of the
 * child processes it waited for (command steps), and its resident memory, sampled. Both are process-wide, so steps
 * that overlap on one worker share them; a worker with concurrency 1 measures each step exactly.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on every Linux we know of). */
const CLOCK_TICKS = 100;

/**
 * CPU-seconds used so far by the worker process (user and system) and by its terminated, waited-for children
 * (Linux's `cutime` and `cstime`; 0 elsewhere).
 */
export function cpuSecondsNow(): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6 + childCpuSeconds();
}

function childCpuSeconds(): number {
  if (process.platform !== 'linux') return 0;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may contain spaces, in parentheses): state is field 3; cutime and
    // cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cutime = Number(fields[13]);
    const cstime = Number(fields[14]);
    return Number.isFinite(cutime) && Number.isFinite(cstime) ? (cutime + cstime) / CLOCK_TICKS : 0;
  } catch {
    return 0;
  }
}

/** How often resident memory is sampled while any step runs. */
const SAMPLE_INTERVAL_MS = 250;

/**
 * Samples the process's resident memory while at least one step runs; each step reads the peak seen since it
 * began. One timer for the process, stopped when no step runs.
 */
export class MemorySampler {
  private readonly peaks = new Map<symbol, number>();
  private timer: NodeJS.Timeout | undefined;

  /** Starts tracking a step's peak; returns the handle {@link MemorySampler.stop} takes. */
  start(): symbol {
    const handle = Symbol('step');
    this.peaks.set(handle, process.memoryUsage.rss());
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
      this.timer.unref();
    }
    return handle;
  }

  /** Stops tracking a step and returns its peak resident memory in bytes. */
  stop(handle: symbol): number {
    this.sample();
    const peak = this.peaks.get(handle) ?? process.memoryUsage.rss();
    this.peaks.delete(handle);
    if (this.peaks.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    return peak;
  }

  private sample(): void {
    const rss = process.memoryUsage.rss();
    for (const [handle, peak] of this.peaks) if (rss > peak) this.peaks.set(handle, rss);
  }
}
