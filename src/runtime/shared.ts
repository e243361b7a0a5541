/**
 * Small helpers both runtime implementations share.
 */

/** The error for a server that could not listen, saying what to do. */
export function listenError(hostname: string, port: number, cause: unknown): Error {
  return new Error(
    `cannot listen on ${hostname}:${port}: ${(cause as Error).message}; pick a free port or stop the program using it`,
    { cause },
  );
}

/** Run a signal delivery that may hit a process that is already gone (ESRCH) or not ours (EPERM). */
export function quietly(kill: () => void): void {
  try {
    kill();
  } catch {
    // Nothing left for us to signal.
  }
}
