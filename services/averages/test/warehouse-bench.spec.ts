import { benchmarkSinkRound } from '../bench/sink-benchmark';

// The warehouse benchmark in its smoke form: the same code path with 2,000 hours, one round.
describe('warehouse sink benchmark (smoke)', () => {
  it('stores every hour through the sink and by COPY, and measures both', async () => {
    const round = await benchmarkSinkRound(2_000);
    expect(round.hours).toBe(2_000);
    expect(round.sink).toBeGreaterThan(0);
    expect(round.copy).toBeGreaterThan(0);
    expect(Number.isFinite(round.sink / round.copy)).toBe(true);
  });
});
