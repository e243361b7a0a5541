/**
 * Errors modelswap itself raises (as opposed to upstream errors passed
 * through). One class carries the HTTP status and the OpenAI error fields,
 * plus the supervision facts a user needs to act: which model, why it
 * exited, where its log is.
 */

/** OpenAI `error.type` for a status code. */
export function errorTypeFor(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** Extra facts attached to an error body next to `message`, `type` and `code`. */
export interface ErrorDetails {
  model?: string;
  exit_reason?: string;
  log_path?: string;
  [key: string]: unknown;
}

/** An error with an HTTP status, rendered as `{"error":{message,type,code,...}}`. */
export class ModelswapError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetails;
  /** Seconds for a `Retry-After` header (429/503). */
  readonly retryAfter?: number;

  constructor(
    status: number,
    code: string,
    message: string,
    details: ErrorDetails = {},
    retryAfter?: number,
  ) {
    super(message);
    this.name = "ModelswapError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** The OpenAI-shaped JSON body. */
  toJSON(): { error: Record<string, unknown> } {
    return {
      error: {
        message: this.message,
        type: errorTypeFor(this.status),
        code: this.code,
        ...this.details,
      },
    };
  }
}

/**
 * Any thrown value as a ModelswapError. An error that carries an HTTP status
 * and code (the scheduler's refusals) keeps them; anything else is a 500
 * whose message names the cause, never a stack trace.
 */
export function toModelswapError(error: unknown): ModelswapError {
  if (error instanceof ModelswapError) return error;
  if (error instanceof Error && "status" in error && typeof error.status === "number" && "code" in error && typeof error.code === "string") {
    const { details, retryAfter } = error as Error & { details?: ErrorDetails; retryAfter?: number };
    return new ModelswapError(error.status, error.code, error.message, details, retryAfter);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ModelswapError(500, "internal_error", `modelswap internal error: ${message}`);
}
