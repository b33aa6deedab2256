/**
 * Registered steps: what `uses: name@version` may name, with typed inputs and outputs. The validator checks a spec
 * against a registry; the engine will map each descriptor to the activity that implements it.
 */
import { z } from 'zod';

import { MloeError } from '../errors';
import { suggest } from './issues';
import { IDENTIFIER_PATTERN, USES_PATTERN, inputPortSchema, outputPortSchema } from './schema';
import type { InputPort, OutputPort } from './schema';

/** A registered step: its name, version and typed ports. Data only, so registries can be shipped as JSON. */
export interface StepDescriptor {
  /** The name `uses:` refers to, e.g. `train` or `sklearn/fit`. */
  name: string;
  /** Its version, e.g. `1` or `1.2.0`; `uses: train@1` picks it, `uses: train` picks the highest. */
  version: string;
  description?: string;
  inputs: Readonly<Record<string, InputPort>>;
  outputs: Readonly<Record<string, OutputPort>>;
}

/** The answer to {@link StepRegistry.resolve}. */
export type ResolvedStep =
  | { ok: true; descriptor: StepDescriptor }
  | { ok: false; code: 'UNKNOWN_STEP_TYPE' | 'UNKNOWN_STEP_VERSION'; message: string; hint: string };

/** Looks up registered steps by `uses` reference. */
export interface StepRegistry {
  /** The descriptor `uses` names, or why there is none. */
  resolve(uses: string): ResolvedStep;
  /** Every registered descriptor, by name then version. */
  list(): readonly StepDescriptor[];
}

const descriptorSchema = z.strictObject({
  name: z
    .string()
    .regex(USES_PATTERN)
    .refine((name) => !name.includes('@'), 'the name must not contain @'),
  version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]*$/),
  description: z.string().optional(),
  inputs: z.record(z.string().regex(IDENTIFIER_PATTERN), inputPortSchema),
  outputs: z.record(z.string().regex(IDENTIFIER_PATTERN), outputPortSchema),
});

/** Splits `name@version` (the version is optional). */
export function parseUses(uses: string): { name: string; version?: string } {
  const at = uses.lastIndexOf('@');
  return at < 0 ? { name: uses } : { name: uses.slice(0, at), version: uses.slice(at + 1) };
}

/** Orders versions by their dot-separated parts, numerically where both parts are numbers (`1.10` > `1.9`). */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.');
  const right = b.split('.');
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const x = left[i] ?? '';
    const y = right[i] ?? '';
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    const order = numeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * Builds a registry from descriptors. Throws `CONFIG_INVALID` if a descriptor is malformed or registered twice: a
 * registry is code, and its mistakes are the author's, not the spec writer's.
 */
export function createStepRegistry(descriptors: readonly StepDescriptor[]): StepRegistry {
  const byName = new Map<string, StepDescriptor[]>();
  for (const descriptor of descriptors) {
    const checked = descriptorSchema.safeParse(descriptor);
    if (!checked.success) {
      throw new MloeError(
        'CONFIG_INVALID',
        `step descriptor ${descriptor.name}@${descriptor.version} is invalid: ${z.prettifyError(checked.error)}`,
      );
    }
    const versions = byName.get(descriptor.name) ?? [];
    if (versions.some((existing) => existing.version === descriptor.version)) {
      throw new MloeError('CONFIG_INVALID', `step ${descriptor.name}@${descriptor.version} is registered twice`);
    }
    versions.push(descriptor);
    versions.sort((a, b) => compareVersions(a.version, b.version));
    byName.set(descriptor.name, versions);
  }
  const names = [...byName.keys()].sort();

  return {
    resolve(uses: string): ResolvedStep {
      const { name, version } = parseUses(uses);
      const versions = byName.get(name);
      if (versions === undefined) {
        return {
          ok: false,
          code: 'UNKNOWN_STEP_TYPE',
          message: `no registered step is called '${name}'`,
          hint: suggest(
            name,
            names,
            names.length === 0 ? 'no steps are registered' : `registered steps: ${names.join(', ')}`,
          ),
        };
      }
      const descriptor =
        version === undefined ? versions[versions.length - 1] : versions.find((d) => d.version === version);
      if (descriptor === undefined) {
        const available = versions.map((d) => d.version);
        return {
          ok: false,
          code: 'UNKNOWN_STEP_VERSION',
          message: `step '${name}' has no version ${version ?? ''}`,
          hint: `registered versions: ${available.join(', ')}; write e.g. '${name}@${available[available.length - 1] ?? ''}'`,
        };
      }
      return { ok: true, descriptor };
    },
    list(): readonly StepDescriptor[] {
      return names.flatMap((name) => byName.get(name) ?? []);
    },
  };
}
