/**
 * The boundary between mloe errors and Temporal failures for activities: an {@link MloeError} leaves an activity as an
 * `ApplicationFailure` whose `type` is the error code and whose `nonRetryable` flag is `!retryable`, so Temporal stops
 * retrying what cannot succeed (bad data, a corrupt artifact) and retries the rest (a full disk, a flaky mount).
 */
import { ApplicationFailure } from '@temporalio/common';

import { MloeError, ensureError } from '../core/errors';
import { DataError } from './table';

/**
 * The error an activity should throw for `error`. `MloeError`s become `ApplicationFailure`s (with the data issues as
 * details for a `DataError`); anything else is unexpected and left as it is, which Temporal treats as retryable.
 */
export function toApplicationFailure(error: unknown): Error {
  const failure = ensureError(error);
  if (!(failure instanceof MloeError)) return failure;
  const cause = failure.cause instanceof Error ? failure.cause : undefined;
  return ApplicationFailure.create({
    type: failure.code,
    message: failure.message,
    nonRetryable: !failure.retryable,
    details: failure instanceof DataError ? [failure.issues] : [],
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Runs an activity's body and converts what it throws with {@link toApplicationFailure}. */
export async function withFailureMapping<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toApplicationFailure(error);
  }
}
