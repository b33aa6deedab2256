/**
 * Task tokens: opaque bytes to workers, JSON to us. They name the run and the exact task instance, so a completion
 * for a task that was retried, timed out or reset is recognised as stale.
 */
import { invalidArgument } from '../errors';

/** What a task token carries. */
export interface TaskToken {
  kind: 'wft' | 'activity' | 'query';
  namespace: string;
  workflowId: string;
  runId: string;
  /** Workflow task instance (wft), activity scheduled event id (activity), query id (query). */
  id: string | number;
  /** Activity dispatch instance. */
  seq?: number;
  attempt?: number;
}

export function encodeToken(token: TaskToken): Buffer {
  return Buffer.from(JSON.stringify(token));
}

export function decodeToken(bytes: Uint8Array | null | undefined, expected: TaskToken['kind']): TaskToken {
  if (!bytes || bytes.length === 0) throw invalidArgument('TaskToken is not set on request.');
  let token: TaskToken;
  try {
    token = JSON.parse(Buffer.from(bytes).toString('utf8')) as TaskToken;
  } catch {
    throw invalidArgument('Error deserializing task token.');
  }
  if (!token || typeof token !== 'object' || token.kind !== expected || typeof token.runId !== 'string') {
    throw invalidArgument('Error deserializing task token.');
  }
  return token;
}
