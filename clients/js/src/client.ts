import { AuthError, bearerError, errorFrom } from "./errors.js";
import { decodeClaims, type UnverifiedClaims } from "./jwt.js";
import { memoryStorage, webStorage, type TokenStorage } from "./storage.js";
import {
  claimCoordinator,
  lockCoordinator,
  sleep,
  soloCoordinator,
  type Channel,
  type ClaimMessage,
  type Coordinator,
  type Locks,
} from "./coordinate.js";
import { pkceStart, pkceFinish, type RedirectOptions, type PendingRedirect } from "./redirect.js";

/** Options of createClient. Only `issuer` is required. */
export interface ClientOptions {
  /** The issuer's URL, exactly as in its tokens' `iss`. */
  issuer: string;
  /** This app's client ID at the issuer. Default "default". */
  clientId?: string;
  /**
   * Where the refresh token lives. "header" (default): in `storage`, sent
   * in the request body. "cookie": in an HttpOnly cookie the issuer sets
   * (`waxseal serve --refresh-cookie`), out of reach of every script.
   */
  mode?: "header" | "cookie";
  /** Header mode: where the refresh token is kept. Default memoryStorage(). */
  storage?: TokenStorage;
  /** Scope to ask for at login. */
  scope?: string;
  /** Refresh this long (ms) before the access token expires; at most a third of its lifetime. Default 30 000. */
  refreshSkew?: number;
  /** Spread refreshes by up to this much more (ms), at most a tenth of the lifetime. Default 5 000. */
  refreshJitter?: number;
  /** Refresh on a timer ahead of expiry, not only when a request needs it. Default true. */
  autoRefresh?: boolean;
  /** The fetch to use. Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Web Locks; null to use the channel fallback. Default navigator.locks. */
  locks?: Locks | null;
  /** The channel to other tabs; null for none. Default a BroadcastChannel. */
  channel?: Channel | null;
  /** Where loginWithRedirect keeps its PKCE verifier across the redirect. Default sessionStorage. */
  redirectStorage?: TokenStorage;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /** Random number in [0, 1). Default Math.random. */
  random?: () => number;
}

/** The signed-in state, as the page may show it. */
export interface Session {
  accessToken: string;
  /** When the access token expires, in ms since the epoch by this page's clock. */
  expiresAt: number;
  /** The access token's claims, NOT verified: for display only. */
  claims: UnverifiedClaims;
  /** When the next automatic refresh is due, in ms since the epoch (undefined without autoRefresh). */
  refreshAt?: number;
}

/** One of the user's sessions at the issuer (`GET /v1/sessions`). */
export interface SessionInfo {
  id: string;
  client_id: string;
  created: string;
  last_used: string;
  expires: string;
  user_agent?: string;
  ip?: string;
  current: boolean;
}

export type AuthEvent = "signed-in" | "refreshed" | "signed-out";

/**
 * Why a page was signed out: "logout" (here or in another tab),
 * "logout_everywhere", "session_ended" (the issuer refused the refresh
 * token: logged out elsewhere, password changed, account disabled, session
 * expired), or another OAuth error code the refresh got.
 */
export type SignOutReason = string;

export type Listener = (event: AuthEvent, session: Session | null, reason?: SignOutReason) => void;

interface Tokens {
  access: string;
  exp: number;
  refresh?: string;
  life: number; // lifetime in ms, for scheduling
}

type Message =
  | { t: "tokens"; tok: Tokens }
  | { t: "query" }
  | { t: "out"; reason: string }
  | ClaimMessage;

const COOKIE_HEADER = "X-Waxseal-Cookie";

/** A waxseal client for one issuer and app. */
export class Client {
  readonly issuer: string;
  readonly clientId: string;
  readonly mode: "header" | "cookie";
  private readonly o: Required<Pick<ClientOptions, "refreshSkew" | "refreshJitter" | "autoRefresh" | "now" | "random">>;
  private readonly store: TokenStorage;
  private readonly key: string;
  private readonly f: typeof fetch;
  private readonly ch: Channel | null;
  private readonly coord: Coordinator;
  private readonly redirects?: TokenStorage;
  private readonly scope?: string;
  private tok: Tokens | null = null;
  private inflight: Promise<Tokens | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private due: number | undefined;
  private listeners = new Set<Listener>();
  private waiters = new Set<(t: Tokens) => void>();
  private claimListeners = new Set<(m: ClaimMessage) => void>();
  /** Settles when the page knows whether it is signed in. */
  readonly ready: Promise<void>;

  constructor(opts: ClientOptions) {
    this.issuer = opts.issuer.replace(/\/+$/, "");
    this.clientId = opts.clientId ?? "default";
    this.mode = opts.mode ?? "header";
    this.o = {
      refreshSkew: opts.refreshSkew ?? 30_000,
      refreshJitter: opts.refreshJitter ?? 5_000,
      autoRefresh: opts.autoRefresh ?? true,
      now: opts.now ?? Date.now,
      random: opts.random ?? Math.random,
    };
    this.store = opts.storage ?? memoryStorage();
    if (opts.scope) this.scope = opts.scope;
    this.key = `waxseal:${this.issuer}:${this.clientId}`;
    this.f = opts.fetch ?? ((i, init) => globalThis.fetch(i, init));
    const g = globalThis as { BroadcastChannel?: new (n: string) => Channel; navigator?: { locks?: Locks }; sessionStorage?: Storage };
    this.ch = opts.channel !== undefined ? opts.channel : g.BroadcastChannel ? new g.BroadcastChannel(this.key) : null;
    if (this.ch) this.ch.onmessage = (ev) => this.receive(ev.data as Message);
    const locks = opts.locks !== undefined ? opts.locks : g.navigator?.locks;
    this.coord = locks
      ? lockCoordinator(locks, this.key)
      : this.ch
        ? claimCoordinator(
            (m) => this.post(m),
            (l) => (this.claimListeners.add(l), () => this.claimListeners.delete(l)),
            this.o.now,
          )
        : soloCoordinator;
    this.redirects = opts.redirectStorage ?? (g.sessionStorage ? webStorage(g.sessionStorage) : undefined);
    this.ready = this.restore();
  }

  /** Signs in with a user name and password (the password grant). */
  async login(username: string, password: string): Promise<Session> {
    const p: Record<string, string> = { grant_type: "password", username, password, client_id: this.clientId };
    if (this.scope) p.scope = this.scope;
    const tok = await this.tokenRequest(this.endpoint("/token"), p);
    await this.adopt(this.toTokens(tok), "signed-in", true);
    return this.session()!;
  }

  /** Creates an account (the issuer must run with --signup), then signs in. */
  async signup(username: string, password: string): Promise<Session> {
    const res = await this.send(this.endpoint("/v1/signup"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!res.ok) throw await errorFrom(res);
    return this.login(username, password);
  }

  /**
   * Ends this session at the issuer and signs out every tab. The local
   * sign-out happens even if the issuer cannot be reached.
   */
  async logout(): Promise<void> {
    const t = this.tok;
    try {
      if (this.mode === "cookie") {
        await this.send(this.endpoint("/v1/logout"), { method: "POST", headers: { [COOKIE_HEADER]: "1" }, credentials: "include" });
      } else if (t?.refresh) {
        // RFC 7009: the refresh token ends its session, whether or not
        // the access token has expired.
        await this.send(this.endpoint("/revoke"), {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: t.refresh, client_id: this.clientId }),
        });
      } else if (t) {
        await this.send(this.endpoint("/v1/logout"), { method: "POST", headers: { Authorization: `Bearer ${t.access}` } });
      }
    } finally {
      await this.signOut("logout", true);
    }
  }

  /** Ends every session of the user, on every device, and signs out every tab. */
  async logoutEverywhere(): Promise<void> {
    const res = await this.fetch(this.endpoint("/v1/logout-all"), {
      method: "POST",
      headers: this.mode === "cookie" ? { [COOKIE_HEADER]: "1" } : {},
      credentials: this.mode === "cookie" ? "include" : "same-origin",
    });
    if (!res.ok) throw await errorFrom(res);
    await this.signOut("logout_everywhere", true);
  }

  /** The user's sessions at the issuer. */
  async sessions(): Promise<SessionInfo[]> {
    const res = await this.fetch(this.endpoint("/v1/sessions"));
    if (!res.ok) throw await errorFrom(res);
    const body = (await res.json()) as { sessions?: SessionInfo[] };
    return body.sessions ?? [];
  }

  /** Ends one of the user's sessions; ending the current one signs out. */
  async endSession(id: string): Promise<void> {
    const current = this.claims()?.sid === id;
    const res = await this.fetch(this.endpoint(`/v1/sessions/${encodeURIComponent(id)}`), { method: "DELETE" });
    if (!res.ok && res.status !== 404) throw await errorFrom(res);
    if (current) await this.signOut("logout", true);
  }

  /**
   * fetch with the access token in `Authorization: Bearer`. The token is
   * refreshed first when it is about to expire, and once more, with one
   * retry of the request, when the answer is a 401 `invalid_token`.
   * Throws AuthError "signed_out" when there is no session.
   */
  async fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    let t = await this.valid();
    const retry = input instanceof Request ? input.clone() : input;
    let res = await this.send(input, bearer(input, init, t.access));
    if (res.status === 401 && bearerError(res) !== "") {
      // invalid_token, or a header the page may not read: one refresh, one retry.
      const next = await this.renew(t.access);
      if (next && next.access !== t.access && replayable(init.body)) {
        t = next;
        res = await this.send(retry, bearer(retry, init, t.access));
      }
    }
    return res;
  }

  /** The current session, or null. */
  session(): Session | null {
    const t = this.tok;
    if (!t) return null;
    const s: Session = { accessToken: t.access, expiresAt: t.exp, claims: decodeClaims(t.access) ?? {} };
    if (this.due !== undefined) s.refreshAt = this.due;
    return s;
  }

  /** The access token's claims, NOT verified (for display), or null. */
  claims(): UnverifiedClaims | null {
    return this.tok ? decodeClaims(this.tok.access) : null;
  }

  /** Calls listener on every change; returns a function that stops it. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Refreshes now, once for every tab. Resolves to null if the session has ended. */
  async refresh(): Promise<Session | null> {
    await this.renew();
    return this.session();
  }

  /**
   * Refreshes, once for every tab, unless the tokens have already moved
   * past stale. Resolves to null after a sign-out.
   */
  private renew(stale?: string): Promise<Tokens | null> {
    if (this.tok && stale !== undefined && this.tok.access !== stale) return Promise.resolve(this.tok);
    if (!this.inflight) {
      const seen = this.tok?.access ?? stale; // before waiting: what "newer" means
      this.inflight = this.coord((contended) => this.refreshLocked(seen, contended)).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** Starts a sign-in through the issuer's login page (authorization code + PKCE). Navigates away. */
  async loginWithRedirect(opts: RedirectOptions): Promise<void> {
    if (!this.redirects) throw new AuthError("invalid_request", "no storage for the PKCE verifier");
    await pkceStart(this, this.redirects, opts);
  }

  /**
   * Finishes a sign-in started by loginWithRedirect, on the page at the
   * redirect URI. Returns the app state given to loginWithRedirect.
   */
  async handleRedirectCallback(url: string = (globalThis as { location?: { href: string } }).location?.href ?? ""): Promise<unknown> {
    if (!this.redirects) throw new AuthError("invalid_request", "no storage for the PKCE verifier");
    const { tok, appState } = await pkceFinish(this, this.redirects, url);
    await this.adopt(this.toTokens(tok), "signed-in", true);
    return appState;
  }

  /** Stops timers and closes the channel. */
  close(): void {
    clearTimeout(this.timer);
    this.ch?.close();
  }

  // ---- internals used by redirect.ts ----

  /** @internal */
  async metadata(): Promise<Record<string, unknown>> {
    const res = await this.send(this.endpoint("/.well-known/openid-configuration"));
    if (!res.ok) throw await errorFrom(res);
    const md = (await res.json()) as Record<string, unknown>;
    if (md.issuer !== this.issuer && md.issuer !== this.issuer + "/") throw new AuthError("invalid_response", "metadata names another issuer");
    return md;
  }

  /** @internal */
  async tokenRequest(url: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const init: RequestInit = {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params),
    };
    if (this.mode === "cookie") {
      (init.headers as Record<string, string>)[COOKIE_HEADER] = "1";
      init.credentials = "include";
    }
    const res = await this.send(url, init);
    if (!res.ok) throw await errorFrom(res);
    const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!body || typeof body.access_token !== "string" || typeof body.expires_in !== "number") {
      throw new AuthError("invalid_response", "no access token in the answer", res.status);
    }
    return body;
  }

  /** @internal */
  toTokens(body: Record<string, unknown>): Tokens {
    const life = Math.max(1, Number(body.expires_in)) * 1000;
    const t: Tokens = { access: body.access_token as string, exp: this.o.now() + life, life };
    if (this.mode === "header" && typeof body.refresh_token === "string") t.refresh = body.refresh_token;
    return t;
  }

  // ---- the rest ----

  private endpoint(path: string): string {
    return this.issuer + path;
  }

  private async send(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    try {
      return await this.f(input, init);
    } catch (e) {
      throw new AuthError("network_error", e instanceof Error ? e.message : String(e));
    }
  }

  /** A token good for a request now, refreshing if it is about to expire. */
  private async valid(): Promise<Tokens> {
    await this.ready;
    let t = this.tok;
    if (t && t.exp - this.o.now() <= this.skew(t)) t = await this.renew(t.access);
    if (!t) throw new AuthError("signed_out", "not signed in");
    return t;
  }

  private skew(t: Tokens): number {
    return Math.min(this.o.refreshSkew, t.life / 3);
  }

  private async refreshLocked(stale: string | undefined, contended: boolean): Promise<Tokens | null> {
    // Another tab may have refreshed while this one waited.
    if (this.tok && this.tok.access !== stale) return this.tok;
    if (contended && this.ch && (await this.askPeers(stale, 300))) return this.tok;
    let refresh: string | undefined;
    if (this.mode === "header") {
      refresh = this.tok?.refresh ?? (await this.store.get(this.key)) ?? undefined;
      if (!refresh) {
        if (this.tok) await this.signOut("session_ended", true);
        return null;
      }
    }
    const p: Record<string, string> = { grant_type: "refresh_token", client_id: this.clientId };
    if (refresh) p.refresh_token = refresh;
    let body: Record<string, unknown>;
    try {
      body = await this.tokenRequest(this.endpoint("/token"), p);
    } catch (e) {
      if (e instanceof AuthError && e.status >= 400 && e.status < 500 && e.status !== 429) {
        // The issuer refused the session (ended, password changed, user
        // disabled, cookie gone): signed out, in every tab.
        const had = this.tok !== null || this.mode === "header";
        if (had || this.cookieHint()) await this.signOut(e.code === "invalid_grant" || e.code === "invalid_request" ? "session_ended" : e.code, true);
        return null;
      }
      if (this.tok) this.schedule(this.tok, 5_000 + this.o.random() * 5_000);
      throw e;
    }
    const t = this.toTokens(body);
    if (this.mode === "header" && !t.refresh) t.refresh = refresh; // an issuer that does not rotate
    await this.adopt(t, this.tok ? "refreshed" : "signed-in", true);
    return t;
  }

  /** Takes tokens as the current ones, stores, tells listeners and (if broadcast) the other tabs. */
  private async adopt(t: Tokens, event: AuthEvent, broadcast: boolean): Promise<void> {
    this.tok = t;
    if (this.mode === "header" && t.refresh) await this.store.set(this.key, t.refresh);
    if (this.mode === "cookie") this.setCookieHint(true);
    this.schedule(t);
    for (const w of this.waiters) w(t);
    if (broadcast) this.post({ t: "tokens", tok: t });
    this.emit(event);
  }

  private async signOut(reason: SignOutReason, broadcast: boolean): Promise<void> {
    const had = this.tok !== null;
    this.tok = null;
    clearTimeout(this.timer);
    if (this.mode === "header") await this.store.remove(this.key);
    this.setCookieHint(false);
    if (broadcast) this.post({ t: "out", reason });
    if (had || broadcast) this.emit("signed-out", reason);
  }

  private emit(event: AuthEvent, reason?: SignOutReason): void {
    const s = this.session();
    for (const l of this.listeners) {
      try {
        l(event, s, reason);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  private schedule(t: Tokens, delay?: number): void {
    clearTimeout(this.timer);
    if (!this.o.autoRefresh) return;
    const jitter = this.o.random() * Math.min(this.o.refreshJitter, t.life / 10);
    const ms = delay ?? Math.max(0, t.exp - this.o.now() - this.skew(t) - jitter);
    this.due = this.o.now() + ms;
    this.timer = setTimeout(() => {
      if (this.tok === t) this.renew(t.access).catch(() => {});
    }, ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private post(m: Message): void {
    try {
      this.ch?.postMessage(m);
    } catch {
      // A closed channel: this tab is going away.
    }
  }

  private receive(m: Message): void {
    switch (m.t) {
      case "tokens":
        // Newer tokens from another tab: adopt them instead of refreshing.
        if (!this.tok || m.tok.exp > this.tok.exp) void this.adopt(m.tok, this.tok ? "refreshed" : "signed-in", false);
        break;
      case "query":
        if (this.tok && this.tok.exp - this.o.now() > this.skew(this.tok)) this.post({ t: "tokens", tok: this.tok });
        break;
      case "out":
        void this.signOut(m.reason, false);
        break;
      default:
        for (const l of this.claimListeners) l(m);
    }
  }

  /** Asks the other tabs for tokens newer than stale; true if some came within ms. */
  private askPeers(stale: string | undefined, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.waiters.delete(w);
        clearTimeout(timer);
        resolve(ok);
      };
      const w = (t: Tokens) => {
        if (t.access !== stale) done(true);
      };
      this.waiters.add(w);
      const timer = setTimeout(() => done(false), ms);
      this.post({ t: "query" });
    });
  }

  /** At start: take another tab's tokens, or restore the session from the stored refresh token or the cookie. */
  private async restore(): Promise<void> {
    await sleep(0); // let the constructor return and listeners attach
    if (this.ch && (await this.askPeers(undefined, 150))) return;
    const stored = this.mode === "header" ? await this.store.get(this.key) : this.cookieHint() ? "cookie" : null;
    if (!stored || this.tok) return;
    try {
      await this.renew();
    } catch {
      // Offline at start: stay signed out for now; the next call retries.
    }
  }

  // Cookie mode cannot see its HttpOnly cookie, so it keeps a hint (not a
  // secret) that a session exists, to skip a doomed refresh on every load.
  private cookieHint(): boolean {
    try {
      return (globalThis as { localStorage?: Storage }).localStorage?.getItem(this.key + ":cookie") === "1";
    } catch {
      return false;
    }
  }

  private setCookieHint(on: boolean): void {
    if (this.mode !== "cookie") return;
    try {
      const ls = (globalThis as { localStorage?: Storage }).localStorage;
      if (on) ls?.setItem(this.key + ":cookie", "1");
      else ls?.removeItem(this.key + ":cookie");
    } catch {
      // Storage disabled: every load tries a refresh instead.
    }
  }
}

function bearer(input: RequestInfo | URL, init: RequestInit, access: string): RequestInit {
  const h = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  h.set("Authorization", `Bearer ${access}`);
  return { ...init, headers: h };
}

/** A body that can be sent twice (not a one-shot stream). */
function replayable(body: BodyInit | null | undefined): boolean {
  return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
}


export type { PendingRedirect };
