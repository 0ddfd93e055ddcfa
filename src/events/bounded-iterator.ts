import type { Observable, Subscription } from 'rxjs';

export interface BoundedIteratorOptions<T> {
  /** Items held for a consumer that is not keeping up; one more ends the iteration. */
  maxBuffered: number;
  /** The last item a consumer gets when it fell too far behind (then the iteration ends). */
  overflow: () => T;
  /** Called once, however the iteration ends (completed, failed, overflowed, or returned by the consumer). */
  onEnd?: () => void;
}

/**
 * An Observable as an AsyncIterableIterator (what a GraphQL subscription resolver returns),
 * subscribed at once so nothing is lost before the first next(). Memory is bounded: a
 * consumer `maxBuffered` items behind gets `overflow()` as its last item, and the source is
 * unsubscribed. `return()` (the client unsubscribed or went away) unsubscribes too.
 */
export function boundedIterator<T>(source: Observable<T>, options: BoundedIteratorOptions<T>): AsyncIterableIterator<T> {
  const queue: T[] = [];
  const waiting: { resolve: (r: IteratorResult<T>) => void; reject: (err: unknown) => void }[] = [];
  let finished = false;
  let failure: { error: unknown } | undefined;
  let ended = false;
  let subscription: Subscription | undefined;

  const end = () => {
    if (ended) return;
    ended = true;
    subscription?.unsubscribe();
    options.onEnd?.();
  };
  const finish = () => {
    finished = true;
    end();
    // consumers waiting on an empty queue: the end, or the error
    while (waiting.length && queue.length === 0) {
      const w = waiting.shift()!;
      if (failure) {
        const { error } = failure;
        failure = undefined;
        w.reject(error);
      } else w.resolve({ value: undefined, done: true });
    }
  };
  const push = (value: T) => {
    if (finished) return;
    const w = waiting.shift();
    if (w) return w.resolve({ value, done: false });
    if (queue.length >= options.maxBuffered) {
      queue.push(options.overflow());
      finish();
      return;
    }
    queue.push(value);
  };

  subscription = source.subscribe({
    next: push,
    error: (error: unknown) => {
      failure = { error };
      finish();
    },
    complete: finish,
  });
  if (ended) subscription.unsubscribe();

  const iterator: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
      if (finished) {
        if (failure) {
          const { error } = failure;
          failure = undefined;
          return Promise.reject(error);
        }
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    return(): Promise<IteratorResult<T>> {
      queue.length = 0;
      failure = undefined;
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
