// Browser tests of header mode: the refresh token in page memory, tokens
// handed between tabs on a BroadcastChannel.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, launch, signIn, get, refreshCount, deviceLogin, until, artifact, dump, requireBrowser, PASSWORD } from "./harness.mjs";

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

test("cross-origin login and API calls with preflight; an unlisted origin gets no CORS headers and cannot read", skip, async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  const preflights = [];
  cdp.on("Network.requestWillBeSent", (e) => e.request.method === "OPTIONS" && preflights.push(e.request.url));
  const failed = [];
  page.on("response", (r) => r.status() >= 500 && failed.push(r.url()));
  try {
    await signIn(page, world);
    await page.fill("#note", "buy milk");
    await page.click("#add button");
    await page.waitForSelector("#notes li >> text=buy milk");
    // The API call carried the token in Authorization, which needs a preflight.
    const sent = await page.evaluate(async ({ api }) => {
      const r = await globalThis.notesApp.auth.fetch(api + "/notes");
      return { status: r.status, notes: await r.json() };
    }, { api: world.api });
    assert.equal(sent.status, 200);
    assert.deepEqual(sent.notes.map((n) => n.text), ["buy milk"]);
    await until(() => preflights.some((u) => u.startsWith(world.api)) && preflights.some((u) => u.startsWith(world.auth)), 3000, "preflights seen");
    assert.deepEqual(failed, []);

    // evil.test: the browser refuses to show it anything.
    const evil = await ctx.newPage();
    await evil.goto(world.evil + "/");
    const token = await page.evaluate(() => globalThis.notesApp.auth.session().accessToken);
    const tries = await evil.evaluate(async ({ api, auth, token }) => {
      const out = {};
      for (const [name, url, init] of [
        ["api with token", api + "/notes", { headers: { Authorization: "Bearer " + token } }],
        ["api simple", api + "/notes", {}],
        ["issuer userinfo", auth + "/v1/userinfo", { headers: { Authorization: "Bearer " + token } }],
        ["issuer login", auth + "/token", { method: "POST", body: new URLSearchParams({ grant_type: "password", username: "alice", password: "x" }) }],
      ]) {
        try {
          const r = await fetch(url, init);
          out[name] = "read " + r.status;
        } catch (e) {
          out[name] = e.name;
        }
      }
      return out;
    }, { api: world.api, auth: world.auth, token });
    assert.deepEqual(tries, { "api with token": "TypeError", "api simple": "TypeError", "issuer userinfo": "TypeError", "issuer login": "TypeError" });
    for (const base of [world.api + "/notes", world.auth + "/token"]) {
      const pre = await get(world, base, { method: "OPTIONS", headers: { Origin: world.evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization" } });
      assert.equal(pre.headers["access-control-allow-origin"], undefined, base);
      const plain = await get(world, base, { headers: { Origin: world.evil } });
      assert.equal(plain.headers["access-control-allow-origin"], undefined, base);
    }
  } catch (e) {
    console.error(dump(world));
    throw e;
  } finally {
    await ctx.close();
  }
});

test("logout in one tab signs out the others within 1 s", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const a = await ctx.newPage();
    await signIn(a, world);
    const b = await ctx.newPage();
    await b.goto(world.app + "/");
    await b.waitForSelector("body[data-state=signed-in]"); // handed over by tab a
    const c = await ctx.newPage();
    await c.goto(world.app + "/");
    await c.waitForSelector("body[data-state=signed-in]");
    // Timed by the pages' own clocks (one machine): from the click in a to
    // the sign-out event in b and c.
    for (const p of [b, c]) {
      await p.evaluate(() => globalThis.notesApp.auth.onChange((ev) => ev === "signed-out" && (globalThis.outAt ??= Date.now())));
    }
    const clickAt = await a.evaluate(() => {
      const at = Date.now();
      document.getElementById("logout").click();
      return at;
    });
    await Promise.all([b, c].map((p) => p.waitForSelector("body[data-state=signed-out]", { timeout: 5000 })));
    for (const p of [b, c]) {
      const took = (await p.evaluate(() => globalThis.outAt)) - clickAt;
      assert.ok(took >= 0 && took <= 1000, `signed out ${took} ms after the logout`);
    }
    assert.match(await b.textContent("#status"), /signed out/i);
    // And the session is over at the issuer, not just in the pages.
    const token = await a.evaluate(() => globalThis.notesApp.auth.session());
    assert.equal(token, null);
  } finally {
    await ctx.close();
  }
});

test("a session ended from another device signs the page out on its next call", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await signIn(page, world);
    const sid = await page.evaluate(() => globalThis.notesApp.auth.claims().sid);
    const device = await deviceLogin(world);
    const del = await get(world, `${world.auth}/v1/sessions/${sid}`, { method: "DELETE", headers: { Authorization: "Bearer " + device.access_token } });
    assert.equal(del.status, 204);
    // The guard hears the revocation on its feed; the page learns on its next call.
    await new Promise((r) => setTimeout(r, 500)); // the guard hears the revocation on its feed
    await page.fill("#note", "after the end");
    await page.click("#add button");
    await page.waitForSelector("body[data-state=signed-out]", { timeout: 5000 });
    assert.match(await page.textContent("#status"), /session ended/i);
  } finally {
    await ctx.close();
  }
});

test("screenshots of the demo signed in and signed out", skip, async () => {
  for (const [name, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    try {
      const page = await ctx.newPage();
      await page.goto(world.app + "/");
      await page.waitForSelector("body[data-state=signed-out]");
      // Keyboard use: the first tab stop is the skip link.
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
      await page.keyboard.press("Tab");
      await page.screenshot({ path: artifact(`notes-signed-out-${name}.png`), fullPage: true });
      await signIn(page, world);
      for (const text of name === "desktop" ? ["Call the dentist on Monday", "Draft the Q3 planning notes"] : []) {
        await page.fill("#note", text);
        await page.click("#add button");
        await page.waitForSelector(`#notes li >> text=${text}`);
      }
      await page.waitForSelector("#sessions li");
      await page.waitForFunction(() => document.getElementById("countdown").textContent.endsWith("s"));
      await page.screenshot({ path: artifact(`notes-signed-in-${name}.png`), fullPage: true });
      await page.click("#logout");
      await page.waitForSelector("body[data-state=signed-out]");
    } finally {
      await ctx.close();
    }
  }
  void PASSWORD;
});
