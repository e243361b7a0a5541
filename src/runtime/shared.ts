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

/** `hostname` as the host part of a URL (IPv6 in brackets). */
export function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * The request with its origin-relative URL (what a server may hand over for
 * an HTTP/1.0 request without Host) made absolute against `origin`.
 */
export function absoluteUrl(request: Request, origin: string): Request {
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  return new Request(origin + request.url, {
    method: request.method,
    headers: request.headers,
    body: hasBody ? request.body : null,
    signal: request.signal,
  });
}
