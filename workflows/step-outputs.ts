/**
 * What finished steps produced, kept twice: as stored (artifact references and scalars, what downstream steps
 * receive) and as expressions read it (a `metrics` output reads as its map of numbers).
 */
import type { JsonValue, OutputReference, StepPorts } from '../core/spec';

/** The outputs of a run's finished steps, by step id then output name. */
export class StepOutputs {
  /** Stored outputs: what downstream steps receive. */
  readonly stored: Record<string, Record<string, JsonValue>> = {};
  /** Outputs as expressions see them. */
  readonly visible: Record<string, Record<string, JsonValue>> = {};

  /** Records a completed step's outputs; `metrics` (one map, or a list for `foreach`) stands for its metrics output. */
  record(id: string, stored: Record<string, JsonValue>, metrics: JsonValue | undefined, ports: StepPorts): void {
    this.stored[id] = stored;
    const visible: Record<string, JsonValue> = { ...stored };
    for (const [name, port] of Object.entries(ports.outputs)) {
      if (port.type === 'metrics' && metrics !== undefined) visible[name] = metrics;
    }
    this.visible[id] = visible;
  }

  /** The stored value an output reference reads, if its step completed. */
  read(reference: OutputReference): JsonValue | undefined {
    return this.stored[reference.step]?.[reference.output];
  }
}
