export interface Throttled {
  (): void;
  /** Drops a run that was put off, for a job that stops. */
  cancel(): void;
}

/**
 * `fn` at most once every `ms`: a call within `ms` of the last run is put off to the end of that
 * interval, and any more calls meanwhile fold into that one run. For work that each of many
 * events asks for, where one run after them answers all of them (re-reading when a job is due
 * next after every committed change, hundreds a second under load).
 */
export function throttle(fn: () => void, ms: number): Throttled {
  let last = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  const throttled = () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait).unref();
  };
  throttled.cancel = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  return throttled;
}
