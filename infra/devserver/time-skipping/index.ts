/**
 * The time-skipping test server: the dev server in memory on a {@link SkippingClock}, plus `TestService`. It stands
 * in for the Java test server behind `TestWorkflowEnvironment.createTimeSkipping()` of `@temporalio/testing`.
 */
import { startDevServer, type DevServerHandle, type DevServerOptions } from '../index';
import { SkippingClock } from './skipping-clock';
import { TEST_SERVICE_NAME, testServiceHandlers } from './test-service';
import { TimeSkipper } from './time-skipper';

export { SkippingClock } from './skipping-clock';
export { TimeSkipper } from './time-skipper';

/** Options of {@link startTestServer}. */
export interface TestServerOptions extends Pick<
  DevServerOptions,
  'ip' | 'port' | 'namespaces' | 'logLevel' | 'searchAttributes'
> {
  /**
   * Start with time skipping unlocked (the Java server's `--enable-time-skipping`). Default false: one lock is held,
   * which the SDK's time-skipping client releases while it awaits a workflow result.
   */
  enableTimeSkipping?: boolean;
}

/** A running test server. */
export interface TestServerHandle extends DevServerHandle {
  /** The server's clock (real time plus what was skipped). */
  clock: SkippingClock;
  /** The lock counter and skipping loop. */
  skipper: TimeSkipper;
}

/** Starts the time-skipping test server in-process (in memory; port 0 picks a free port). */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServerHandle> {
  const { enableTimeSkipping, ...rest } = options;
  const clock = new SkippingClock();
  let skipper: TimeSkipper | undefined;
  const server = await startDevServer({
    ...rest,
    clock,
    extraServices: (engine) => {
      skipper = new TimeSkipper(engine, clock, { locked: !enableTimeSkipping });
      return { [TEST_SERVICE_NAME]: testServiceHandlers(skipper, clock) };
    },
  });
  if (!skipper) throw new Error('the dev server did not build the test service');
  return { ...server, clock, skipper };
}
