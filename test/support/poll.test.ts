/** The tests' one polling helper: what it returns, what it polls past, how it times out. */
import { pollUntil } from './poll';

describe('pollUntil', () => {
  it('returns the first value check returns, without polling again', async () => {
    let calls = 0;
    const value = await pollUntil('a value', () => {
      calls += 1;
      return { found: calls };
    });
    expect(value).toEqual({ found: 1 });
    expect(calls).toBe(1);
  });

  it('keeps polling past undefined, false and throws, and returns falsy values other than those', async () => {
    const answers: (() => unknown)[] = [
      () => undefined,
      () => false,
      () => {
        throw new Error('not yet');
      },
      () => Promise.reject(new Error('not yet, asynchronously')),
      () => Promise.resolve(undefined),
      () => 0,
    ];
    let calls = 0;
    const value = await pollUntil(
      'the sixth answer',
      () => {
        const answer = answers[calls];
        calls += 1;
        if (!answer) throw new Error('polled past the value');
        return answer();
      },
      { intervalMs: 1 },
    );
    expect(value).toBe(0);
    expect(calls).toBe(6);
  });

  it('times out with what it waited for, after at least timeoutMs, with the last error check threw as cause', async () => {
    let calls = 0;
    const started = Date.now();
    const err = await pollUntil(
      'the flag',
      () => {
        calls += 1;
        if (calls % 2 === 1) throw new Error(`attempt ${calls} failed`);
        return false;
      },
      { timeoutMs: 200, intervalMs: 10 },
    ).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(calls).toBeGreaterThan(2);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('timed out after 200 ms waiting for the flag');
    // The last attempt returned false; the cause is the last error thrown before it.
    const lastThrown = calls % 2 === 1 ? calls : calls - 1;
    expect((err as Error).cause).toEqual(new Error(`attempt ${lastThrown} failed`));
  });

  it('times out without a cause when check never threw, checking once more at the deadline, not an interval later', async () => {
    const checkedAt: number[] = [];
    const started = Date.now();
    const err = await pollUntil(
      'nothing',
      () => {
        checkedAt.push(Date.now() - started);
        return undefined;
      },
      { timeoutMs: 100, intervalMs: 30_000 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('timed out after 100 ms waiting for nothing');
    expect((err as Error).cause).toBeUndefined();
    expect([2, 3]).toContain(checkedAt.length); // 3 only if a timer fired a little early
    expect(checkedAt[1]).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
