/** The outcome of one item of a batch job, as `Promise.allSettled` reports it, never a rejection. */
export function settle(work: Promise<unknown>): Promise<PromiseSettledResult<void>> {
  return work.then(
    () => ({ status: 'fulfilled', value: undefined }) as const,
    (reason: unknown) => ({ status: 'rejected', reason }) as const,
  );
}
