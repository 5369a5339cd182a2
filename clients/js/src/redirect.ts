import { AuthError } from "./errors.js";
import { b64url, decodeClaims } from "./jwt.js";
import type { TokenStorage } from "./storage.js";

/** Options of loginWithRedirect. */
export interface RedirectOptions {
  /** Where the issuer sends the browser back: registered for this client, exactly. */
  redirectUri: string;
  /** Scope to ask for. Default "openid". */
  scope?: string;
  /** "login" forces a fresh login; "none" fails with login_required instead of showing a page. */
  prompt?: "login" | "none";
  /** Seconds: a login older than this must be repeated. */
  maxAge?: number;
  /** Prefills the user name on the login page. */
  loginHint?: string;
  /** Anything to have back from handleRedirectCallback (where the user was, say). */
  appState?: unknown;
  /** Goes to the URL. Default location.assign. */
  navigate?: (url: string) => void;
}

/** What waits in redirect storage between the two halves of the flow. */
export interface PendingRedirect {
  verifier: string;
  nonce: string;
  redirectUri: string;
  appState?: unknown;
  at: number;
}

/** The part of the client the redirect flow needs. */
interface Host {
  readonly issuer: string;
  readonly clientId: string;
  metadata(): Promise<Record<string, unknown>>;
  tokenRequest(url: string, params: Record<string, string>): Promise<Record<string, unknown>>;
}

const PREFIX = "waxseal:redirect:";
const MAX_AGE_MS = 10 * 60_000; // a login left open longer than this is started again

function random(bytes: number): string {
  return b64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 code challenge of verifier (RFC 7636 §4.2). */
export async function challengeOf(verifier: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(d));
}

function endpoint(md: Record<string, unknown>, name: string): string {
  const v = md[name];
  if (typeof v !== "string" || !/^https?:\/\//.test(v)) throw new AuthError("invalid_response", `the issuer's metadata has no ${name}`);
  return v;
}

/**
 * Builds the authorization request (RFC 6749 §4.1.1 with RFC 7636 PKCE
 * S256, a state and an OpenID Connect nonce), keeps the verifier under the
 * state in storage, and navigates.
 */
export async function pkceStart(c: Host, store: TokenStorage, o: RedirectOptions): Promise<string> {
  const md = await c.metadata();
  const methods = md.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes("S256")) throw new AuthError("invalid_response", "the issuer does not support PKCE S256");
  const verifier = random(32); // 43 characters, RFC 7636 §4.1
  const state = random(16);
  const nonce = random(16);
  const pending: PendingRedirect = { verifier, nonce, redirectUri: o.redirectUri, at: Date.now() };
  if (o.appState !== undefined) pending.appState = o.appState;
  await store.set(PREFIX + state, JSON.stringify(pending));
  const u = new URL(endpoint(md, "authorization_endpoint"));
  const q: Record<string, string> = {
    response_type: "code",
    client_id: c.clientId,
    redirect_uri: o.redirectUri,
    scope: o.scope ?? "openid",
    state,
    nonce,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  };
  if (o.prompt) q.prompt = o.prompt;
  if (o.maxAge !== undefined) q.max_age = String(o.maxAge);
  if (o.loginHint) q.login_hint = o.loginHint;
  for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
  const go = o.navigate ?? ((url: string) => (globalThis as unknown as { location: Location }).location.assign(url));
  go(u.href);
  return u.href;
}

/**
 * Reads the authorization response at the redirect URI, checks state
 * (only a flow this browser started is finished, RFC 6749 §10.12) and the
 * issuer (RFC 9207), exchanges the code with the verifier, and checks the
 * ID token's nonce, issuer and audience.
 */
export async function pkceFinish(c: Host, store: TokenStorage, url: string): Promise<{ tok: Record<string, unknown>; appState?: unknown }> {
  const u = new URL(url);
  const q = new URLSearchParams(u.search);
  const state = q.get("state");
  if (!state) throw new AuthError("invalid_state", "the callback has no state");
  const raw = await store.get(PREFIX + state);
  await store.remove(PREFIX + state); // single use, whatever happens next
  if (!raw) throw new AuthError("invalid_state", "no sign-in was started with this state in this tab");
  const p = JSON.parse(raw) as PendingRedirect;
  if (Date.now() - p.at > MAX_AGE_MS) throw new AuthError("invalid_state", "the sign-in took too long; start again");
  const md = await c.metadata();
  const iss = q.get("iss");
  if (iss !== null ? iss !== md.issuer : md.authorization_response_iss_parameter_supported === true) {
    throw new AuthError("invalid_response", "the answer comes from another issuer");
  }
  const err = q.get("error");
  if (err) throw new AuthError(err, q.get("error_description") ?? undefined);
  const code = q.get("code");
  if (!code) throw new AuthError("invalid_response", "the callback has no code");
  const tok = await c.tokenRequest(endpoint(md, "token_endpoint"), {
    grant_type: "authorization_code",
    code,
    redirect_uri: p.redirectUri,
    code_verifier: p.verifier,
    client_id: c.clientId,
  });
  if (typeof tok.id_token === "string") {
    // The ID token came straight from the token endpoint over TLS (OIDC
    // Core §3.1.3.7), so its claims are checked, not its signature.
    const id = decodeClaims(tok.id_token);
    const aud = id?.aud;
    if (!id || id.nonce !== p.nonce) throw new AuthError("invalid_response", "the ID token's nonce does not match");
    if (id.iss !== md.issuer || !(aud === c.clientId || (Array.isArray(aud) && aud.includes(c.clientId)))) {
      throw new AuthError("invalid_response", "the ID token is for another issuer or client");
    }
  }
  return p.appState === undefined ? { tok } : { tok, appState: p.appState };
}
