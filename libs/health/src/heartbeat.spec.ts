import { Heartbeat } from './heartbeat';

describe('Heartbeat', () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2025, 0, 1) }));
  afterEach(() => jest.useRealTimers());

  it('has no age before the loop first beats', () => {
    expect(new Heartbeat().ageMs()).toBeNull();
  });

  it('ages from the last beat on', () => {
    const heartbeat = new Heartbeat();
    heartbeat.beat();
    expect(heartbeat.ageMs()).toBe(0);
    jest.advanceTimersByTime(1_500);
    expect(heartbeat.ageMs()).toBe(1_500);
    heartbeat.beat();
    jest.advanceTimersByTime(20);
    expect(heartbeat.ageMs()).toBe(20);
  });

  it('says why the loop cannot work until its next beat', () => {
    const heartbeat = new Heartbeat();
    expect(heartbeat.blockedBy()).toBeNull();
    heartbeat.beat();
    heartbeat.blocked('OOM command not allowed when used memory > maxmemory');
    expect(heartbeat.blockedBy()).toBe('OOM command not allowed when used memory > maxmemory');
    // Being blocked is not a beat: the age keeps growing.
    jest.advanceTimersByTime(300);
    expect(heartbeat.ageMs()).toBe(300);
    heartbeat.beat();
    expect(heartbeat.blockedBy()).toBeNull();
  });
});
