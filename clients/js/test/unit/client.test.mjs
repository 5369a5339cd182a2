import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { createClient, AuthError, memoryStorage, webStorage } from "../../dist/index.js";
import { errorFrom, bearerError } from "../../dist/errors.js";
import { FakeIssuer, Locks, MemStorage } from "./issuer.mjs";

const ISSUER = "https://auth.test";

// A client alone: no other tabs, no channel.
function solo(iss, opts = {}) {
  return createClient({ issuer: ISSUER, clientId: "web", fetch: iss.fetch, channel: null, locks: null, ...opts });
}

let channelSeq = 0;
// Tabs of one origin: real BroadcastChannels of one name, shared locks and storage.
function tabs(iss, n, opts = {}) {
  const name = "tabs-" + channelSeq++;
  const locks = opts.locks === undefined ? new Locks() : opts.locks;
  return Array.from({ length: n }, () =>
    createClient({ issuer: ISSUER, clientId: "web", fetch: iss.fetch, channel: new BroadcastChannel(name), ...opts, locks }),
  );
}

const until = async (cond, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("refresh scheduling: ahead of expiry by the skew and jitter, never before", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  const iss = new FakeIssuer({ ttl: 600 });
  const c = solo(iss, { random: () => 0.5, refreshSkew: 30_000, refreshJitter: 10_000 });
  await c.login("alice", "pw");
  // 600 s of life: refresh 30 s (skew) + 5 s (half the jitter) ahead.
  t.mock.timers.tick(600_000 - 35_000 - 1);
  await flush();
  assert.equal(iss.counts.refresh_token, 0, "refreshed too early");
  t.mock.timers.tick(1);
  await settle(() => iss.counts.refresh_token === 1);
  // The next one is scheduled from the new tokens.
  t.mock.timers.tick(600_000 - 35_000);
  await settle(() => iss.counts.refresh_token === 2);
  c.close();
});

test("refresh scheduling: a short lifetime caps the skew at a third and the jitter at a tenth", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  const iss = new FakeIssuer({ ttl: 3 });
  const c = solo(iss, { random: () => 0.999 });
  await c.login("alice", "pw");
  t.mock.timers.tick(1_000 - 300); // 3 s: skew 1 s, jitter under 0.3 s
  await flush();
  assert.equal(iss.counts.refresh_token, 0, "a 30 s default skew would refresh at once, in a loop");
  t.mock.timers.tick(1_100);
  await settle(() => iss.counts.refresh_token === 1);
  c.close();
});

test("fetch refreshes first when the token is about to expire", async () => {
  let now = 1_000_000;
  const iss = new FakeIssuer({ ttl: 60, now: () => now });
  const c = solo(iss, { now: () => now, autoRefresh: false });
  await c.login("alice", "pw");
  now += 50_000; // inside the skew
  const res = await c.fetch(ISSUER + "/api");
  assert.equal(res.status, 200);
  assert.equal(iss.counts.refresh_token, 1);
});

test("single flight: 20 parallel requests on an expired token make one refresh", async () => {
  const iss = new FakeIssuer();
  const c = solo(iss, { autoRefresh: false });
  await c.login("alice", "pw");
  iss.expireAll();
  const answers = await Promise.all(Array.from({ length: 20 }, () => c.fetch(ISSUER + "/api")));
  assert.deepEqual(answers.map((r) => r.status), Array(20).fill(200));
  assert.equal(iss.counts.refresh_token, 1);
});

test("retry on 401: one refresh and one retry for invalid_token", async () => {
  const iss = new FakeIssuer();
  const c = solo(iss, { autoRefresh: false });
  await c.login("alice", "pw");
  iss.expireAll();
  const res = await c.fetch(ISSUER + "/api", { method: "POST", body: "x", headers: { "X-Kept": "1" } });
  assert.equal(res.status, 200);
  assert.equal(iss.counts.api, 2, "the request is sent again once");
  assert.equal(iss.counts.refresh_token, 1);
});

test("retry on 401: a Request input is replayed with its body", async () => {
  const iss = new FakeIssuer();
  const c = solo(iss, { autoRefresh: false });
  await c.login("alice", "pw");
  iss.expireAll();
  const res = await c.fetch(new Request(ISSUER + "/api", { method: "POST", body: "payload" }));
  assert.equal(res.status, 200);
});

test("retry on 401: never more than once", async () => {
  const iss = new FakeIssuer();
  const c = solo(iss, { autoRefresh: false });
  await c.login("alice", "pw");
  const orig = iss.issue.bind(iss);
  iss.issue = (sid) => {
    const r = orig(sid);
    iss.expireAll(); // every token is already refused by the API
    return r;
  };
  iss.expireAll();
  const res = await c.fetch(ISSUER + "/api");
  assert.equal(res.status, 401);
  assert.equal(iss.counts.refresh_token, 1);
  assert.equal(iss.counts.api, 2);
});

test("retry on 401: a challenge without an error (no token) is not retried", async () => {
  const iss = new FakeIssuer();
  const c = solo(iss, { autoRefresh: false });
  await c.login("alice", "pw");
  const res = await c.fetch(ISSUER + "/api/no-challenge");
  assert.equal(res.status, 401);
  assert.equal(iss.counts.refresh_token, 0);
});

test("fetch without a session throws signed_out", async () => {
  const c = solo(new FakeIssuer());
  await assert.rejects(c.fetch(ISSUER + "/api"), (e) => e instanceof AuthError && e.code === "signed_out");
});

test("a refused refresh signs out and says why", async () => {
  const iss = new FakeIssuer();
  const c = solo(iss, { autoRefresh: false });
  const events = [];
  c.onChange((ev, s, reason) => events.push([ev, s === null, reason]));
  await c.login("alice", "pw");
  iss.endSession(c.claims().sid); // ended from another device
  const res = await c.fetch(ISSUER + "/api");
  assert.equal(res.status, 401);
  assert.equal(c.session(), null);
  assert.deepEqual(events, [["signed-in", false, undefined], ["signed-out", true, "session_ended"]]);
});

test("a network failure while refreshing keeps the session", async () => {
  const iss = new FakeIssuer();
  let down = false;
  const c = solo(iss, { autoRefresh: false, fetch: (i, init) => (down ? Promise.reject(new TypeError("Failed to fetch")) : iss.fetch(i, init)) });
  await c.login("alice", "pw");
  iss.expireAll();
  down = true;
  await assert.rejects(c.fetch(ISSUER + "/api"), (e) => e.code === "network_error");
  assert.notEqual(c.session(), null);
  down = false;
  assert.equal((await c.fetch(ISSUER + "/api")).status, 200);
});

test("error mapping", async () => {
  const e1 = await errorFrom(new Response(JSON.stringify({ error: "invalid_grant", error_description: "wrong user name or password" }), { status: 400 }));
  assert.equal(e1.code, "invalid_grant");
  assert.equal(e1.status, 400);
  assert.match(e1.message, /wrong user name/);
  const e2 = await errorFrom(new Response("", { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="x", error="invalid_token", error_description="expired"' } }));
  assert.equal(e2.code, "invalid_token");
  const e3 = await errorFrom(new Response("<html>", { status: 502 }));
  assert.equal(e3.code, "server_error");
  const e4 = await errorFrom(new Response(JSON.stringify({ error: "temporarily_unavailable" }), { status: 503, headers: { "Retry-After": "7" } }));
  assert.equal(e4.retryAfter, 7);
  const e5 = await errorFrom(new Response("nope", { status: 418 }));
  assert.equal(e5.code, "invalid_response");
  assert.equal(bearerError(new Response("", { status: 401 })), undefined, "an unexposed header is unknown, not 'no error'");
  assert.equal(bearerError(new Response("", { status: 401, headers: { "WWW-Authenticate": "Bearer" } })), "");

  const c = solo(new FakeIssuer());
  await assert.rejects(c.login("alice", "wrong"), (e) => e instanceof AuthError && e.code === "invalid_grant" && e.status === 400);
  const down = solo(new FakeIssuer(), { fetch: () => Promise.reject(new TypeError("offline")) });
  await assert.rejects(down.login("alice", "pw"), (e) => e.code === "network_error" && e.status === 0);
});

test("storage: memoryStorage and webStorage keep, give back and forget", async () => {
  for (const s of [memoryStorage(), webStorage(new MemStorage())]) {
    assert.equal(await s.get("k"), null);
    await s.set("k", "v");
    assert.equal(await s.get("k"), "v");
    await s.remove("k");
    assert.equal(await s.get("k"), null);
  }
});

test("storage: header mode stores the refresh token only, restores from it, forgets it at logout", async () => {
  const iss = new FakeIssuer();
  const ls = new MemStorage();
  const a = solo(iss, { storage: webStorage(ls), autoRefresh: false });
  const s = await a.login("alice", "pw");
  const stored = [...ls.m.values()];
  assert.equal(stored.length, 1);
  assert.match(stored[0], /^rt-/, "the stored value is the refresh token");
  assert.ok(!stored.some((v) => v.includes(s.accessToken)), "the access token must never be stored");

  const b = solo(iss, { storage: webStorage(ls), autoRefresh: false }); // a reload
  await b.ready;
  assert.equal(b.claims().sid, a.claims().sid);
  assert.equal(iss.counts.refresh_token, 1);

  await b.logout();
  assert.equal(ls.m.size, 0);
  assert.equal(iss.counts.revoke, 1, "logout revokes the refresh token, whatever the access token's state");
});

test("storage: a custom async adapter works", async () => {
  const m = new Map();
  const slow = {
    get: async (k) => m.get(k) ?? null,
    set: async (k, v) => void m.set(k, v),
    remove: async (k) => void m.delete(k),
  };
  const iss = new FakeIssuer();
  await solo(iss, { storage: slow }).login("alice", "pw");
  const b = solo(iss, { storage: slow, autoRefresh: false });
  await b.ready;
  assert.notEqual(b.session(), null);
});

test("tabs: four tabs at expiry make exactly one refresh, none is signed out", async () => {
  const iss = new FakeIssuer();
  const [a, ...others] = tabs(iss, 4, { autoRefresh: false });
  await a.login("alice", "pw");
  for (const t of others) await until(() => t.session() !== null); // handed over, no refresh
  assert.equal(iss.counts.refresh_token, 0);
  iss.expireAll();
  const all = [a, ...others];
  const res = await Promise.all(all.flatMap((t) => [t.fetch(ISSUER + "/api"), t.fetch(ISSUER + "/api")]));
  assert.deepEqual(res.map((r) => r.status), Array(8).fill(200));
  assert.equal(iss.counts.refresh_token, 1);
  assert.ok(all.every((t) => t.session() !== null));
  all.forEach((t) => t.close());
});

test("tabs without Web Locks: the channel fallback makes one refresh", async () => {
  const iss = new FakeIssuer();
  const all = tabs(iss, 3, { autoRefresh: false, locks: null });
  await all[0].login("alice", "pw");
  for (const t of all) await until(() => t.session() !== null);
  iss.expireAll();
  const res = await Promise.all(all.map((t) => t.fetch(ISSUER + "/api")));
  assert.deepEqual(res.map((r) => r.status), [200, 200, 200]);
  assert.equal(iss.counts.refresh_token, 1);
  all.forEach((t) => t.close());
});

test("tabs: a tab that loses the race adopts the winner's tokens instead of replaying", async () => {
  const iss = new FakeIssuer();
  const [a, b] = tabs(iss, 2, { autoRefresh: false });
  await a.login("alice", "pw");
  await until(() => b.session() !== null);
  const before = b.session().accessToken;
  await a.refresh();
  await until(() => b.session().accessToken !== before);
  assert.equal(b.session().accessToken, a.session().accessToken);
  // b never presents the rotated refresh token (which the fake treats as theft).
  assert.equal((await b.fetch(ISSUER + "/api")).status, 200);
  assert.equal(iss.counts.refresh_token, 1);
  a.close();
  b.close();
});

test("tabs: logout in one signs out all; so does a session ended elsewhere", async () => {
  const iss = new FakeIssuer();
  const all = tabs(iss, 3, { autoRefresh: false });
  const reasons = all.map(() => []);
  all.forEach((t, i) => t.onChange((ev, _s, r) => ev === "signed-out" && reasons[i].push(r)));
  await all[0].login("alice", "pw");
  for (const t of all) await until(() => t.session() !== null);
  await all[1].logout();
  await until(() => all.every((t) => t.session() === null));
  assert.deepEqual(reasons, [["logout"], ["logout"], ["logout"]]);

  await all[0].login("alice", "pw");
  for (const t of all) await until(() => t.session() !== null);
  iss.endSession(all[0].claims().sid);
  await all[2].fetch(ISSUER + "/api");
  await until(() => all.every((t) => t.session() === null));
  assert.deepEqual(reasons.map((r) => r.at(-1)), ["session_ended", "session_ended", "session_ended"]);
  all.forEach((t) => t.close());
});

test("sessions, endSession, logoutEverywhere and signup", async () => {
  const iss = new FakeIssuer();
  const [a, b] = tabs(iss, 2, { autoRefresh: false });
  const reasons = [];
  b.onChange((ev, _s, r) => ev === "signed-out" && reasons.push(r));
  await a.signup("alice", "pw");
  await assert.rejects(a.signup("bob", "weak"), (e) => e.code === "invalid_request" && /weak/.test(e.message));
  await until(() => b.session() !== null);
  const other = solo(iss);
  await other.login("alice", "pw");
  const list = await a.sessions();
  assert.equal(list.length, 2);
  await a.endSession(other.claims().sid);
  assert.notEqual(a.session(), null, "ending another session keeps this one");
  assert.equal((await other.fetch(ISSUER + "/api")).status, 401);
  await a.logoutEverywhere();
  await until(() => b.session() === null);
  assert.deepEqual(reasons, ["logout_everywhere"]);
  a.close();
  b.close();
});

test("loginWithRedirect: authorization code request with PKCE S256, state and nonce", async () => {
  const iss = new FakeIssuer();
  const store = new MemStorage();
  let went;
  const c = solo(iss, { redirectStorage: webStorage(store) });
  await c.loginWithRedirect({ redirectUri: "https://app.test/cb", scope: "openid profile", appState: { back: "/notes" }, navigate: (u) => (went = u), loginHint: "alice" });
  const u = new URL(went);
  assert.equal(u.origin + u.pathname, ISSUER + "/authorize");
  const q = u.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), "web");
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.equal(q.get("scope"), "openid profile");
  assert.equal(q.get("login_hint"), "alice");
  assert.ok(q.get("state").length >= 22 && q.get("nonce").length >= 22);
  const pending = JSON.parse(store.getItem("waxseal:redirect:" + q.get("state")));
  assert.ok(pending.verifier.length >= 43 && /^[A-Za-z0-9_-]+$/.test(pending.verifier), "RFC 7636 verifier");
  const { createHash } = await import("node:crypto");
  assert.equal(q.get("code_challenge"), createHash("sha256").update(pending.verifier).digest("base64url"));

  const appState = await c.handleRedirectCallback(iss.authorize(went));
  assert.deepEqual(appState, { back: "/notes" });
  assert.notEqual(c.session(), null);
  assert.equal(store.m.size, 0, "the verifier is used once");
  c.close();
});

test("handleRedirectCallback refuses what this tab did not start or cannot trust", async () => {
  const iss = new FakeIssuer();
  const store = new MemStorage();
  const c = solo(iss, { redirectStorage: webStorage(store) });
  let went;
  const start = () => c.loginWithRedirect({ redirectUri: "https://app.test/cb", navigate: (u) => (went = u) });

  await start();
  const back = new URL(iss.authorize(went));
  back.searchParams.set("state", "forged");
  await assert.rejects(c.handleRedirectCallback(back.href), (e) => e.code === "invalid_state");

  await start();
  const replay = iss.authorize(went);
  await c.handleRedirectCallback(replay);
  await assert.rejects(c.handleRedirectCallback(replay), (e) => e.code === "invalid_state", "a callback is finished once");

  await start();
  const mixup = new URL(iss.authorize(went));
  mixup.searchParams.set("iss", "https://evil.test");
  await assert.rejects(c.handleRedirectCallback(mixup.href), (e) => e.code === "invalid_response", "RFC 9207 mix-up");

  await start();
  await assert.rejects(c.handleRedirectCallback(iss.authorize(went, { idNonce: "other" })), /nonce/);

  await start();
  const denied = new URL("https://app.test/cb");
  denied.searchParams.set("error", "access_denied");
  denied.searchParams.set("state", new URL(went).searchParams.get("state"));
  denied.searchParams.set("iss", ISSUER);
  await assert.rejects(c.handleRedirectCallback(denied.href), (e) => e.code === "access_denied");

  await start();
  const badVerifier = iss.authorize(went);
  const st = new URL(went).searchParams.get("state");
  const p = JSON.parse(store.getItem("waxseal:redirect:" + st));
  store.setItem("waxseal:redirect:" + st, JSON.stringify({ ...p, verifier: "x".repeat(43) }));
  await assert.rejects(c.handleRedirectCallback(badVerifier), (e) => e.code === "invalid_grant");
  c.close();
});

// until, for tests whose setTimeout is mocked: turns the event loop only.
async function settle(cond) {
  for (let i = 0; i < 1000 && !cond(); i++) await flush();
  assert.ok(cond(), "condition not reached");
}

function flush() {
  return new Promise((r) => setImmediate(r));
}
