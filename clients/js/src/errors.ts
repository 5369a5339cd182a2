/**
 * An error from the issuer or on the way to it. `code` is the OAuth error
 * code the server sent (RFC 6749 §5.2, RFC 6750 §3.1: `invalid_grant`,
 * `invalid_token`, `temporarily_unavailable`, …) or one of the client's own:
 * `network_error` (no answer), `invalid_response` (an answer that is not
 * what the protocol says), `signed_out` (no session to act for),
 * `invalid_state` (a redirect callback this tab did not start).
 */
export class AuthError extends Error {
  readonly code: string;
  /** HTTP status, 0 when there was no answer. */
  readonly status: number;
  /** Seconds from Retry-After, on 429 and 503 answers. */
  readonly retryAfter?: number;

  constructor(code: string, description?: string, status = 0, retryAfter?: number) {
    super(description ? `${code}: ${description}` : code);
    this.name = "AuthError";
    this.code = code;
    this.status = status;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/** Maps a failed answer of the issuer to an AuthError. */
export async function errorFrom(res: Response): Promise<AuthError> {
  const ra = Number(res.headers.get("Retry-After"));
  const retryAfter = Number.isFinite(ra) && ra > 0 ? ra : undefined;
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const b = body as { error?: unknown; error_description?: unknown } | undefined;
  if (b && typeof b.error === "string") {
    const desc = typeof b.error_description === "string" ? b.error_description : undefined;
    return new AuthError(b.error, desc, res.status, retryAfter);
  }
  const challenge = bearerError(res);
  if (challenge) return new AuthError(challenge, undefined, res.status, retryAfter);
  return new AuthError(res.status >= 500 ? "server_error" : "invalid_response", `HTTP ${res.status}`, res.status, retryAfter);
}

/**
 * The `error` of an RFC 6750 challenge in WWW-Authenticate, "" for a
 * challenge without one (no token was sent), or undefined when the header
 * cannot be read (a cross-origin answer that does not expose it).
 */
export function bearerError(res: Response): string | undefined {
  const h = res.headers.get("WWW-Authenticate");
  if (h === null) return undefined;
  const m = /(?:^|[\s,])error="?([\w.-]+)"?/.exec(h);
  return m ? m[1] : "";
}
