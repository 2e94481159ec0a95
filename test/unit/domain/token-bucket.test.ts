import { take, type Bucket } from '../../../domain/token-bucket';

/** The rate limit's arithmetic: a key may burst, then goes at the rate, and is told how long to wait. */
describe('token bucket', () => {
  const rate = { perSecond: 2, burst: 3 };

  function run(times: number[]): Array<number | null> {
    let bucket: Bucket | undefined;
    return times.map((at) => {
      const taken = take(bucket, rate, at);
      bucket = taken.bucket;
      return taken.retryAfterSeconds;
    });
  }

  it('lets a new key burst, then refuses until a token flows back in', () => {
    expect(run([0, 0, 0, 0])).toEqual([null, null, null, 1]);
  });

  it('refills at the rate, never beyond the burst', () => {
    // Half a second brings one token back; an hour of quiet brings back three, not 7,200.
    expect(run([0, 0, 0, 500, 500])).toEqual([null, null, null, null, 1]);
    expect(run([0, 0, 0, 3_600_000, 3_600_000, 3_600_000, 3_600_000])).toEqual([null, null, null, null, null, null, 1]);
  });

  it('says in whole seconds, rounded up, how long until the next token', () => {
    const slow = { perSecond: 1 / 90, burst: 1 };
    const first = take(undefined, slow, 0);
    expect(take(first.bucket, slow, 30_000).retryAfterSeconds).toBe(60);
  });
});
