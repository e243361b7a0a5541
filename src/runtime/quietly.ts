/** Run a signal delivery that may hit a process that is already gone (ESRCH) or not ours (EPERM). */
export function quietly(kill: () => void): void {
  try {
    kill();
  } catch {
    // Nothing left for us to signal.
  }
}
