// loginWithRedirect / handleRedirectCallback in Chromium against the real
// issuer's authorization endpoint and login page: the app never sees the
// password.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, launch, dump, requireBrowser, PASSWORD } from "./harness.mjs";

let world, browser;
const skip = { skip: false };

before(async (t) => {
  if (!requireBrowser(t)) return (skip.skip = true);
  world = await startStack({ mode: "header", ttl: "10m" });
  browser = await launch(world);
});
after(async () => {
  await browser?.close();
  await world?.stop();
});

const client = (page) =>
  page.evaluate(async ({ issuer }) => {
    const { createClient } = await import("/lib/index.js");
    globalThis.spa = createClient({ issuer, clientId: "notes-spa" });
  }, { issuer: world.auth });

test("loginWithRedirect: authorization code with PKCE through the issuer's login page, then API calls", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(world.app + "/");
    await page.waitForSelector("body[data-ready]");
    await client(page);
    // Not awaited in the page: it navigates away.
    await page.evaluate((app) => void globalThis.spa.loginWithRedirect({ redirectUri: app + "/", scope: "openid profile", appState: { back: "/notes" } }), world.app);
    await page.waitForURL((u) => u.href.startsWith(world.auth));
    const authorize = new URL(page.url());
    assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
    assert.ok(authorize.searchParams.get("nonce") && authorize.searchParams.get("state"));
    await page.fill("#username", "alice");
    await page.fill("#password", PASSWORD);
    const msgs = [];
    page.on("console", (m) => msgs.push(m.text()));
    await page.click("button[type=submit]");
    await page.waitForURL((u) => u.href.startsWith(world.app), { timeout: 5000 }).catch(async (e) => {
      throw new Error(`${e.message}\nat ${page.url()}\n${(await page.textContent("body")).slice(0, 500)}\n${msgs.join("\n")}`);
    });
    const back = new URL(page.url());
    assert.ok(back.searchParams.get("code"), `back at ${back.href}`);
    assert.equal(back.searchParams.get("iss"), world.auth);
    await page.waitForSelector("body[data-ready]");
    await client(page);
    const out = await page.evaluate(async ({ api }) => {
      const appState = await globalThis.spa.handleRedirectCallback(location.href);
      const claims = globalThis.spa.claims();
      const r = await globalThis.spa.fetch(api + "/notes");
      let again;
      try {
        await globalThis.spa.handleRedirectCallback(location.href);
      } catch (e) {
        again = e.code;
      }
      return { appState, client: claims.client_id, status: r.status, again };
    }, { api: world.api });
    assert.deepEqual(out, { appState: { back: "/notes" }, client: "notes-spa", status: 200, again: "invalid_state" });
  } catch (e) {
    console.error(dump(world));
    throw e;
  } finally {
    await ctx.close();
  }
});

test("handleRedirectCallback refuses a callback this tab did not start", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(world.app + "/?code=forged&state=forged&iss=" + encodeURIComponent(world.auth));
    await page.waitForSelector("body[data-ready]");
    await client(page);
    const code = await page.evaluate(() => globalThis.spa.handleRedirectCallback(location.href).then(() => "accepted", (e) => e.code));
    assert.equal(code, "invalid_state");
  } finally {
    await ctx.close();
  }
});
