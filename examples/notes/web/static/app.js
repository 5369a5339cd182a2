// The notes app: signs in at the issuer with @waxseal/client and calls the
// notes API on another origin with the access token in the Authorization
// header. No inline script, no third-party code: the page's CSP allows
// scripts from this origin only.
import { createClient, AuthError } from "/lib/index.js";

const $ = (id) => document.getElementById(id);
const cfg = await (await fetch("/config.json")).json();
const auth = createClient({ issuer: cfg.issuer, clientId: cfg.clientId, mode: cfg.mode });
// For the console and the browser tests.
globalThis.notesApp = { auth, cfg };

const reasons = {
  logout: "You signed out.",
  logout_everywhere: "You signed out on every device.",
  session_ended: "Your session ended (signed out elsewhere, or it expired). Please sign in again.",
};

function say(text, warn = false) {
  $("status").textContent = text;
  $("status").classList.toggle("warn", warn);
}

function show(session) {
  const on = session !== null;
  $("signed-in").hidden = !on;
  $("who").hidden = !on;
  $("signed-out").hidden = on;
  document.body.dataset.state = on ? "signed-in" : "signed-out";
  if (on) {
    const c = session.claims;
    const rows = [
      ["Subject", c.sub],
      ["Roles", (c.roles ?? []).join(", ") || "none"],
      ["Session", c.sid],
      ["Issued", c.iat ? new Date(c.iat * 1000).toLocaleTimeString() : "?"],
      ["Expires", c.exp ? new Date(c.exp * 1000).toLocaleTimeString() : "?"],
    ];
    $("claims").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", k), el("dd", String(v ?? ""))]));
  }
}

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// The countdown to the next refresh: the client refreshes a little ahead
// of expiry, so this counts to that moment, not to exp itself.
setInterval(() => {
  const s = auth.session();
  if (!s) return;
  const left = Math.max(0, Math.round(((s.refreshAt ?? s.expiresAt) - Date.now()) / 1000));
  $("countdown").textContent = `${left} s`;
}, 500);

async function api(path, init) {
  const res = await auth.fetch(cfg.api + path, init);
  if (res.status === 401) throw new AuthError("invalid_token", "signed out", 401);
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.error_description ?? body.error ?? `HTTP ${res.status}`);
  }
  return res.status === 204 ? null : res.json();
}

async function loadNotes() {
  const body = await api("/notes");
  const list = body.notes ?? body;
  $("notes").replaceChildren(
    ...list.map((n) => {
      const li = el("li");
      li.append(el("span", n.text));
      const right = el("span");
      right.append(el("time", new Date(n.created).toLocaleString(), { datetime: n.created }));
      const del = el("button", "Delete", { type: "button", class: "btn link", "aria-label": `Delete note: ${n.text}` });
      del.addEventListener("click", () => guarded(async () => {
        await api(`/notes/${n.id}`, { method: "DELETE" });
        await loadNotes();
        $("note").focus();
      }, "notes-error"));
      right.append(" ", del);
      li.append(right);
      return li;
    }),
  );
  $("notes-empty").hidden = list.length > 0;
}

// The user's name comes from the issuer's userinfo: the token carries only
// the subject's ID.
async function loadUser() {
  const res = await auth.fetch(cfg.issuer + "/v1/userinfo");
  if (res.ok) $("who-name").textContent = (await res.json()).preferred_username ?? "";
}

async function loadSessions() {
  const list = await auth.sessions();
  $("sessions").replaceChildren(
    ...list.map((s) => {
      const li = el("li");
      const info = el("div");
      info.append(el("div", describeAgent(s.user_agent)));
      info.append(el("div", `since ${new Date(s.created).toLocaleString()}`, { class: "meta" }));
      li.append(info);
      if (s.current) {
        li.append(el("span", "This device", { class: "this" }));
      } else {
        const b = el("button", "End this session", { type: "button", class: "btn link", "aria-label": `End the session from ${describeAgent(s.user_agent)}` });
        b.addEventListener("click", () => guarded(async () => {
          await auth.endSession(s.id);
          say("Session ended.");
          await loadSessions();
        }, "notes-error"));
        li.append(b);
      }
      return li;
    }),
  );
}

function describeAgent(ua = "") {
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom(e|ium)\//.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : ua ? "A client" : "Unknown client";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}

// guarded runs an action, showing its failure in the element errId; a
// failure because the session ended is shown by the sign-out itself.
async function guarded(fn, errId) {
  $(errId).textContent = "";
  try {
    await fn();
  } catch (e) {
    if (e instanceof AuthError && (e.code === "signed_out" || e.code === "invalid_token")) return;
    $(errId).textContent = e instanceof AuthError && e.code === "network_error" ? "Cannot reach the server. Check your connection and try again." : e.message;
  }
}

auth.onChange((event, session, reason) => {
  show(session);
  if (event === "signed-in") {
    say("");
    guarded(() => Promise.all([loadNotes(), loadSessions(), loadUser()]), "notes-error");
  }
  if (event === "signed-out") {
    say(reasons[reason] ?? "You are signed out.", reason !== "logout");
    $("notes").replaceChildren();
    $("sessions").replaceChildren();
    $("username").focus();
  }
});

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const button = ev.submitter ?? ev.target.querySelector("button");
  const user = $("username").value.trim();
  const pw = $("password").value;
  $("signin-error").textContent = "";
  if (!user || !pw) {
    $("signin-error").textContent = "Enter your user name and password.";
    (user ? $("password") : $("username")).focus();
    return;
  }
  button.disabled = true;
  try {
    await auth.login(user, pw);
    $("password").value = "";
    $("note").focus();
  } catch (e) {
    $("signin-error").textContent =
      e.code === "invalid_grant" ? "Wrong user name or password." :
      e.code === "network_error" ? "Cannot reach the sign-in server." :
      e.status === 429 ? `Too many attempts. Try again in ${e.retryAfter ?? 30} seconds.` : e.message;
    $("password").focus();
  } finally {
    button.disabled = false;
  }
});

$("add").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("note").value.trim();
  if (!text) return;
  guarded(async () => {
    await api("/notes", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }) });
    $("note").value = "";
    await loadNotes();
  }, "notes-error");
});

$("logout").addEventListener("click", () => auth.logout());
$("logout-all").addEventListener("click", () => guarded(() => auth.logoutEverywhere(), "notes-error"));

await auth.ready;
show(auth.session());
if (auth.session()) {
  guarded(() => Promise.all([loadNotes(), loadSessions(), loadUser()]), "notes-error");
} else {
  say("");
}
document.body.dataset.ready = "1";
