import { throttle } from '../../src/jobs/throttle';

describe('throttle', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs the first call at once and folds the calls within the interval into one run at its end', () => {
    const fn = jest.fn();
    const t = throttle(fn, 25);
    t();
    expect(fn).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(5);
    t();
    t();
    t();
    expect(fn).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(19);
    expect(fn).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('runs at once again once an interval has passed without a run', () => {
    const fn = jest.fn();
    const t = throttle(fn, 25);
    t();
    jest.advanceTimersByTime(30);
    t();
    expect(fn).toHaveBeenCalledTimes(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('drops a run that was put off when cancelled', () => {
    const fn = jest.fn();
    const t = throttle(fn, 25);
    t();
    t();
    t.cancel();
    jest.advanceTimersByTime(100);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
