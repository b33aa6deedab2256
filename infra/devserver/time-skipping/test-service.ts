/**
 * `temporal.api.testservice.v1.TestService`, served only by the time-skipping test server: the lock counter,
 * sleeping in server time, and the server's current time (what `TestWorkflowEnvironment.sleep()` and
 * `currentTimeMs()` of `@temporalio/testing` call).
 */
import type { Handler } from '../api/handler';
import { durationToMs, msToTimestamp, timestampToMs, type Duration, type Timestamp } from '../proto';
import type { SkippingClock } from './skipping-clock';
import type { TimeSkipper } from './time-skipper';

/** Full gRPC name of the service. */
export const TEST_SERVICE_NAME = 'temporal.api.testservice.v1.TestService';

/** The TestService method table over one skipper and its clock. */
export function testServiceHandlers(skipper: TimeSkipper, clock: SkippingClock): Record<string, Handler> {
  return {
    LockTimeSkipping: () => {
      skipper.lock();
      return {};
    },
    UnlockTimeSkipping: () => {
      skipper.unlock();
      return {};
    },
    // Returns once server time has advanced by the duration; holds no lock and releases none.
    Sleep: async (_engine, req: { duration?: Duration | null }, signal) => {
      await skipper.waitUntil(clock.now() + durationToMs(req.duration), signal);
      return {};
    },
    SleepUntil: async (_engine, req: { timestamp?: Timestamp | null }, signal) => {
      await skipper.waitUntil(timestampToMs(req.timestamp), signal);
      return {};
    },
    UnlockTimeSkippingWithSleep: async (_engine, req: { duration?: Duration | null }, signal) => {
      await skipper.unlockWithSleep(durationToMs(req.duration), signal);
      return {};
    },
    GetCurrentTime: () => ({ time: msToTimestamp(clock.now()) }),
  };
}
