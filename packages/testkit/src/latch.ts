/** Resolves after `count` calls to `countDown()`; rejects with its name if `ms` pass first. */
export function latch(count: number, options: { name: string; ms?: number }) {
  let remaining = count;
  let release!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolveLatch, reject) => {
    release = resolveLatch;
    fail = reject;
  });
  const timer = setTimeout(
    () => fail(new Error(`latch "${options.name}" timed out with ${remaining} of ${count} left`)),
    options.ms ?? 10_000,
  );
  if (count === 0) release();
  return {
    countDown() {
      if (--remaining === 0) {
        clearTimeout(timer);
        release();
      }
    },
    done,
  };
}
