// The browser tests' world: the real issuer (waxseal serve), the real notes
// API and the demo page, each built with go build and served over HTTPS
// with certificates from a CA this harness makes, under the names
// app.example.test, auth.example.test, api.example.test (one site) and
// evil.test (another site), which Chromium maps to loopback.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { createHash, X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import http from "node:http";
import https from "node:https";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const CLIENT_DIST = join(REPO, "clients/js/dist");
export const ARTIFACTS = join(REPO, "clients/js/test-results");
export const CHROMIUM = process.env.WAXSEAL_TEST_CHROMIUM ?? "/usr/bin/chromium";
export const PASSWORD = "velvet quarry lantern 8 orbit";

/** Why the browser tests cannot run here, or null. Under CI=true a reason is a failure. */
export function missing() {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set WAXSEAL_TEST_CHROMIUM)`;
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    return "go or openssl is not on PATH";
  }
  return null;
}

/** Skips t (loudly) when the browser is missing; fails instead under CI. */
export function requireBrowser(t) {
  const why = missing();
  if (!why) return true;
  if (process.env.CI === "true") throw new Error(`browser tests cannot run under CI: ${why}`);
  t.skip(why);
  console.warn(`SKIP browser tests: ${why}`);
  return false;
}

let built;
/** Builds waxseal, the notes API and the demo's server once per process. */
export function build() {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), "waxseal-bin-"));
  for (const [name, pkg] of [["waxseal", "./cmd/waxseal"], ["notes", "./examples/notes"], ["web", "./examples/notes/web"]]) {
    execFileSync("go", ["build", "-o", join(dir, name), pkg], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"] });
  }
  built = dir;
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A CA and one server certificate for every test host name. */
export function makeCA(dir) {
  const o = (args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  o(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
    "-days", "2", "-subj", "/CN=waxseal browser test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
  o(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=example.test"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:app.example.test,DNS:auth.example.test,DNS:api.example.test,DNS:evil.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
  o(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  writeFileSync(join(dir, "chain.pem"), readFileSync(join(dir, "server.pem"), "utf8") + ca);
  const spki = createHash("sha256").update(new X509Certificate(ca).publicKey.export({ type: "spki", format: "der" })).digest("base64");
  return { ca, spki, cert: join(dir, "chain.pem"), key: join(dir, "server.key"), caFile: join(dir, "ca.pem") };
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

/**
 * A CONNECT proxy that resolves the test names to loopback, for the notes
 * API's guard, which must reach https://auth.example.test:PORT.
 */
function resolvingProxy() {
  const srv = http.createServer((_, res) => res.writeHead(405).end());
  srv.on("connect", (req, sock, head) => {
    const [host, port] = req.url.split(":");
    if (!host.endsWith(".example.test")) return sock.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    const up = net.connect(Number(port), "127.0.0.1", () => {
      sock.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    up.on("error", () => sock.destroy());
    sock.on("error", () => up.destroy());
  });
  return new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv)));
}

/**
 * Starts the three origins and an evil.test server. mode is "header" or
 * "cookie"; ttl is the access-token lifetime (a Go duration).
 */
export async function startStack({ mode = "header", ttl = "10m" } = {}) {
  const bin = build();
  const dir = mkdtempSync(join(tmpdir(), "waxseal-browser-"));
  const tls = makeCA(dir);
  const [ap, ip, np, ep, mp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const app = `https://app.example.test:${ap}`;
  const auth = `https://auth.example.test:${ip}`;
  const api = `https://api.example.test:${np}`;
  const evil = `https://evil.test:${ep}`;
  const db = `sqlite:${join(dir, "waxseal.db")}`;
  const procs = [];
  const logs = [];
  const env = { ...process.env, NO_PROXY: "", no_proxy: "" };
  delete env.WAXSEAL_DATABASE;
  const run = (args) => execFileSync(join(bin, "waxseal"), args, { env, input: PASSWORD + "\n", stdio: ["pipe", "ignore", "pipe"] });
  run(["migrate", "--database", db]);
  run(["user", "add", "--database", db, "--password-stdin", "--role", "admin", "alice"]);
  // A single-page app that signs in through the issuer's login page.
  run(["client", "add", "--database", db, "--public", "--redirect-uri", `${app}/`, "--grant", "authorization_code",
    "--grant", "refresh_token", "--scope", "openid", "--scope", "profile", "--name", "Notes", "notes-spa"]);
  const start = (name, args, extraEnv = {}) => {
    const p = spawn(join(bin, name), args, { env: { ...env, ...extraEnv }, stdio: ["ignore", "ignore", "pipe"] });
    p.stderr.on("data", (d) => logs.push(`[${name}] ${d}`));
    procs.push(p);
    return p;
  };
  start("waxseal", ["serve", "--database", db, "--listen", `127.0.0.1:${ip}`, "--issuer", auth, "--audience", "notes",
    "--tls-cert", tls.cert, "--tls-key", tls.key, "--access-ttl", ttl, "--allow-origin", app,
    "--metrics-listen", `127.0.0.1:${mp}`,
    ...(mode === "cookie" ? ["--refresh-cookie"] : [])]);
  const proxy = await resolvingProxy();
  const world = { app, auth, api, evil, mode, dir, tls, logs, procs, proxy, metrics: `http://127.0.0.1:${mp}/metrics` };
  await until(() => get(world, `${auth}/readyz`).then((r) => r.status === 200), 15_000, "issuer ready");
  start("notes", ["--listen", `127.0.0.1:${np}`, "--issuer", auth, "--database", join(dir, "notes.db"), "--allow-origin", app,
    "--tls-cert", tls.cert, "--tls-key", tls.key], { HTTPS_PROXY: `http://127.0.0.1:${proxy.address().port}`, SSL_CERT_FILE: tls.caFile });
  start("web", ["--listen", `127.0.0.1:${ap}`, "--issuer", auth, "--api", api, "--mode", mode, "--client-dir", CLIENT_DIST,
    "--tls-cert", tls.cert, "--tls-key", tls.key]);
  world.evilServer = await evilServer(world, ep);
  await until(() => get(world, `${api}/healthz`).then((r) => r.status === 200), 15_000, "notes API ready");
  await until(() => get(world, `${app}/config.json`).then((r) => r.status === 200), 15_000, "page ready");
  world.stop = async () => {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.on("exit", r)))));
    proxy.close();
    world.evilServer.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return world;
}

/** An HTTPS request from the test itself, trusting the test CA. */
export function get(world, url, { method = "GET", headers = {}, body } = {}) {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const req = https.request(
      { host: "127.0.0.1", port: u.port, path: u.pathname + u.search, method, headers, servername: u.hostname, ca: world.tls.ca },
      (r) => {
        let data = "";
        r.on("data", (d) => (data += d));
        r.on("end", () => res({ status: r.statusCode, headers: r.headers, body: data }));
      },
    );
    req.on("error", rej);
    req.end(body);
  });
}

/** Refresh-token exchanges the issuer has seen, from its /metrics (a listener of its own). */
export async function refreshCount(world) {
  const body = await (await fetch(world.metrics)).text();
  let n = 0;
  for (const m of body.matchAll(/^waxseal_issuer_refreshes_total\{outcome="[a-z]+"\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

/** Logs alice in from the test (another device). */
export async function deviceLogin(world) {
  const r = await get(world, `${world.auth}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username: "alice", password: PASSWORD, client_id: "cli" }).toString(),
  });
  return JSON.parse(r.body);
}

// evil.test: a page on another site that tries to use what the user's
// browser holds for example.test.
function evilServer(world, port) {
  const page = `<!doctype html><meta charset="utf-8"><title>Win a prize</title>
<form id="f" method="POST" action="${world.auth}/token">
<input name="grant_type" value="refresh_token"><input name="client_id" value="notes-web">
<button id="go" type="submit">Claim</button></form>`;
  const srv = https.createServer({ cert: readFileSync(world.tls.cert), key: readFileSync(world.tls.key) }, (req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page);
  });
  return new Promise((r) => srv.listen(port, "127.0.0.1", () => r(srv)));
}

export async function until(cond, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Launches Debian's Chromium through playwright-core with a fresh profile. */
export async function launch(world) {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic",
      "--host-resolver-rules=MAP *.example.test 127.0.0.1, MAP evil.test 127.0.0.1",
      `--ignore-certificate-errors-spki-list=${world.tls.spki}`,
    ],
  });
}

/** Signs in through the demo page's form. */
export async function signIn(page, world) {
  await page.goto(world.app + "/");
  await page.waitForSelector("body[data-ready]");
  await page.fill("#username", "alice");
  await page.fill("#password", PASSWORD);
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("body[data-state=signed-in]");
}

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

export function dump(world) {
  return world.logs.slice(-30).join("");
}
