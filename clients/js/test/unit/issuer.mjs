// An issuer in memory for the unit tests: the token endpoint with password,
// refresh (rotation with a grace window) and authorization_code grants,
// logout, sessions, and an API that checks the bearer token. It counts
// what reaches it, so tests assert on what a real server would see. The
// browser tests run against the real issuer.
import { createHash } from "node:crypto";

const b64url = (s) => Buffer.from(s).toString("base64url");

export function jwt(claims) {
  return `${b64url(JSON.stringify({ alg: "none", typ: "at+jwt" }))}.${b64url(JSON.stringify(claims))}.sig`;
}

export class FakeIssuer {
  constructor({ url = "https://auth.test", ttl = 60, now = () => Date.now() } = {}) {
    this.url = url;
    this.ttl = ttl;
    this.now = now;
    this.counts = { password: 0, refresh_token: 0, authorization_code: 0, api: 0, logout: 0, revoke: 0 };
    this.sessions = new Map(); // sid -> { refresh, previous, ended }
    this.valid = new Set(); // access tokens the API accepts
    this.codes = new Map();
    this.nextSid = 1;
    this.fetch = this.fetch.bind(this);
  }

  issue(sid, status = 200) {
    const s = this.sessions.get(sid);
    const access = jwt({ iss: this.url, sub: "u1", sid, exp: Math.floor(this.now() / 1000) + this.ttl, jti: Math.random().toString(36), aud: "web", nonce: s.nonce });
    this.valid.add(access);
    const refresh = "rt-" + Math.random().toString(36).slice(2);
    s.previous = s.refresh;
    s.refresh = refresh;
    return json(status, { access_token: access, token_type: "Bearer", expires_in: this.ttl, refresh_token: refresh });
  }

  /** Makes every access token so far fail at the API (they expired). */
  expireAll() {
    this.valid.clear();
  }

  endSession(sid) {
    this.sessions.get(sid).ended = true;
    this.expireAll();
  }

  async fetch(input, init = {}) {
    const req = new Request(input, init);
    const u = new URL(req.url);
    const body = req.method === "POST" || req.method === "DELETE" ? await req.text() : "";
    const p = new URLSearchParams(body);
    await new Promise((r) => setImmediate(r)); // an answer is never synchronous
    switch (u.pathname) {
      case "/.well-known/openid-configuration":
        return json(200, {
          issuer: this.url,
          authorization_endpoint: this.url + "/authorize",
          token_endpoint: this.url + "/token",
          code_challenge_methods_supported: ["S256"],
          authorization_response_iss_parameter_supported: true,
        });
      case "/token":
        return this.token(p);
      case "/revoke":
        this.counts.revoke++;
        for (const s of this.sessions.values()) if (s.refresh === p.get("token")) s.ended = true;
        return new Response(null, { status: 200 });
      case "/v1/logout":
        this.counts.logout++;
        return new Response(null, { status: 204 });
      case "/v1/logout-all":
        return this.authed(req, () => {
          for (const x of this.sessions.values()) x.ended = true;
          this.expireAll();
          return new Response(null, { status: 204 });
        });
      case "/v1/sessions":
        return this.authed(req, () => json(200, { sessions: [...this.sessions.keys()].map((id) => ({ id, current: false })) }));
      case "/v1/signup":
        this.counts.signup = (this.counts.signup ?? 0) + 1;
        return JSON.parse(body).password === "pw" ? json(201, { id: "u1" }) : json(400, { error: "invalid_request", error_description: "password too weak" });
      case "/api":
        this.counts.api++;
        return this.authed(req, () => json(200, { ok: true }));
      case "/api/no-challenge":
        return new Response("", { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="api"' } });
    }
    const m = /^\/v1\/sessions\/(.+)$/.exec(u.pathname);
    if (m && req.method === "DELETE") {
      return this.authed(req, () => {
        if (!this.sessions.has(m[1])) return json(404, { error: "not_found" });
        this.endSession(m[1]); // its tokens stop working, as the guard's denylist makes them
        return new Response(null, { status: 204 });
      });
    }
    return json(404, { error: "not_found" });
  }

  authed(req, ok) {
    const h = req.headers.get("Authorization") ?? "";
    if (!this.valid.has(h.replace(/^Bearer /, ""))) {
      return new Response(JSON.stringify({ error: "invalid_token" }), {
        status: 401,
        headers: { "WWW-Authenticate": 'Bearer error="invalid_token"', "Content-Type": "application/json" },
      });
    }
    return ok();
  }

  token(p) {
    const grant = p.get("grant_type");
    this.counts[grant]++;
    if (grant === "password") {
      if (p.get("password") !== "pw") return json(400, { error: "invalid_grant", error_description: "wrong user name or password" });
      const sid = "s" + this.nextSid++;
      this.sessions.set(sid, {});
      return this.issue(sid);
    }
    if (grant === "refresh_token") {
      for (const [sid, s] of this.sessions) {
        if (s.ended) continue;
        if (s.refresh === p.get("refresh_token")) return this.issue(sid);
        if (s.previous === p.get("refresh_token")) {
          s.ended = true; // reuse: theft, as the real issuer treats it after its grace window
          return json(400, { error: "invalid_grant", error_description: "refresh token already used" });
        }
      }
      return json(400, { error: "invalid_grant", error_description: "the session has ended" });
    }
    if (grant === "authorization_code") {
      const c = this.codes.get(p.get("code"));
      this.codes.delete(p.get("code"));
      const challenge = createHash("sha256").update(p.get("code_verifier") ?? "").digest("base64url");
      if (!c || c.challenge !== challenge || c.redirect !== p.get("redirect_uri") || c.client !== p.get("client_id")) {
        return json(400, { error: "invalid_grant" });
      }
      const sid = "s" + this.nextSid++;
      this.sessions.set(sid, { nonce: c.nonce });
      const r = this.issue(sid);
      return r.json().then((b) => json(200, { ...b, id_token: jwt({ iss: this.url, aud: c.client, sub: "u1", nonce: c.idNonce ?? c.nonce }) }));
    }
    return json(400, { error: "unsupported_grant_type" });
  }

  /** What the login page would do: issue a code for an authorization request URL. */
  authorize(href, { idNonce } = {}) {
    const q = new URL(href).searchParams;
    const code = "code-" + Math.random().toString(36).slice(2);
    this.codes.set(code, { challenge: q.get("code_challenge"), redirect: q.get("redirect_uri"), client: q.get("client_id"), nonce: q.get("nonce"), idNonce });
    const back = new URL(q.get("redirect_uri"));
    back.searchParams.set("code", code);
    back.searchParams.set("state", q.get("state"));
    back.searchParams.set("iss", this.url);
    return back.href;
  }
}

function json(status, v) {
  return new Response(JSON.stringify(v), { status, headers: { "Content-Type": "application/json" } });
}

/** Web Locks for one process: exclusive, granted in order, ifAvailable. */
export class Locks {
  constructor() {
    this.held = new Map(); // name -> promise of release
  }
  async request(name, opts, cb) {
    if (typeof opts === "function") [cb, opts] = [opts, {}];
    if (opts.ifAvailable && this.held.has(name)) return cb(null);
    while (this.held.has(name)) await this.held.get(name);
    let release;
    this.held.set(name, new Promise((r) => (release = r)));
    try {
      return await cb({ name });
    } finally {
      this.held.delete(name);
      release();
    }
  }
}

/** Map-backed Web Storage. */
export class MemStorage {
  constructor() {
    this.m = new Map();
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
  removeItem(k) {
    this.m.delete(k);
  }
}
