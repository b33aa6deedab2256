/**
 * Units the spec writes as strings: Go/Temporal-style durations (`30s`, `1h30m`) and Kubernetes-style resource
 * quantities (`500m` CPU, `4Gi` memory). Parsing is pure and exact, so the validator and the engine agree.
 */

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/**
 * Parses a Go `time.ParseDuration` string (`300ms`, `1.5h`, `2h45m`) into milliseconds, or returns `undefined` when
 * the text is not one. Only positive durations are accepted: every duration in a spec is a timeout or an interval.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '' || text.trim() !== text) return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (match === null) return undefined;
    const unit = DURATION_UNITS[match[2] ?? ''];
    if (unit === undefined) return undefined;
    total += Number(match[1]) * unit;
  }
  return total > 0 && Number.isFinite(total) ? total : undefined;
}

/** Why a duration string is invalid, and how to write it; used in validation messages. */
export const DURATION_HINT = "write a positive duration with units, e.g. '30s', '5m', '1h30m' or '500ms'";

const CPU_PATTERN = /^(\d+(?:\.\d+)?)(m?)$/;

/** Parses a CPU quantity (`2`, `0.5`, `'500m'`) into cores, or `undefined` when it is not a positive quantity. */
export function parseCpu(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  const match = CPU_PATTERN.exec(value);
  if (match === null) return undefined;
  const cores = Number(match[1]) / (match[2] === 'm' ? 1000 : 1);
  return cores > 0 ? cores : undefined;
}

const MEMORY_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)(k|K|M|G|T|Ki|Mi|Gi|Ti)?$/;

/** Parses a memory quantity (`'512Mi'`, `'4G'`, or a number of bytes) into bytes, or `undefined` if invalid. */
export function parseMemory(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const match = MEMORY_PATTERN.exec(value);
  if (match === null) return undefined;
  const bytes = Math.round(Number(match[1]) * (MEMORY_SUFFIXES[match[2] ?? ''] ?? Number.NaN));
  return bytes > 0 ? bytes : undefined;
}

/** How to write CPU and memory quantities; used in validation messages. */
export const CPU_HINT = "write a number of cores (2, 0.5) or millicores ('500m')";
/** How to write a memory quantity; used in validation messages. */
export const MEMORY_HINT = "write bytes with a unit, e.g. '512Mi', '4Gi' or '2G'";
