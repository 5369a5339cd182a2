// Browser tests of cookie mode: the refresh token in the issuer's HttpOnly
// __Host- cookie, where no script can read it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, launch, signIn, refreshCount, dump, requireBrowser } from "./harness.mjs";

let world, browser;
const skip = { skip: false };

before(async (t) => {
  if (!requireBrowser(t)) return (skip.skip = true);
  world = await startStack({ mode: "cookie", ttl: "10m" });
  browser = await launch(world);
});
after(async () => {
  await browser?.close();
  await world?.stop();
});

const refreshCookie = async (ctx) => (await ctx.cookies(world.auth)).find((c) => c.name === "__Host-waxseal-refresh");

test("cookie mode: a reload keeps the user signed in", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await signIn(page, world);
    const sid = await page.evaluate(() => globalThis.notesApp.auth.claims().sid);
    await page.reload();
    await page.waitForSelector("body[data-ready]");
    assert.equal(await page.evaluate(() => document.body.dataset.state), "signed-in");
    assert.equal(await page.evaluate(() => globalThis.notesApp.auth.claims().sid), sid, "the same session, restored from the cookie");
  } catch (e) {
    console.error(dump(world));
    throw e;
  } finally {
    await ctx.close();
  }
});

test("cookie mode: a script cannot read the refresh token", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const bodies = [];
    page.on("response", async (r) => r.url().startsWith(world.auth + "/token") && bodies.push(await r.text()));
    await signIn(page, world);
    const c = await refreshCookie(ctx);
    assert.ok(c, "the issuer set the refresh cookie");
    assert.deepEqual([c.httpOnly, c.secure, c.sameSite, c.path], [true, true, "Strict", "/"]);
    const seen = await page.evaluate(() => {
      const all = [document.cookie];
      for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) all.push(s.getItem(s.key(i)));
      return all.join("\n");
    });
    assert.ok(!seen.includes(c.value), "the refresh token is visible to scripts");
    assert.ok(bodies.length > 0 && bodies.every((b) => !b.includes("refresh_token") && !b.includes(c.value)), "a token response carried the refresh token");
  } finally {
    await ctx.close();
  }
});

test("cookie mode: a form POST from evil.test to the refresh endpoint gets no tokens and changes nothing", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await signIn(page, world);
    const cookie = await refreshCookie(ctx);
    const before = await refreshCount(world);

    const evil = await ctx.newPage();
    await evil.goto(world.evil + "/");
    await Promise.all([evil.waitForNavigation(), evil.click("#go")]);
    const answer = await evil.textContent("body");
    assert.ok(!answer.includes("access_token"), `the cross-site form got tokens: ${answer}`);

    assert.equal(await refreshCount(world), before, "the issuer rotated the refresh token");
    assert.equal((await refreshCookie(ctx))?.value, cookie.value, "the cookie changed");
    // The app's own refresh still works with the untouched cookie.
    const s = await page.evaluate(() => globalThis.notesApp.auth.refresh().then((x) => x !== null));
    assert.ok(s);
    assert.equal(await refreshCount(world), before + 1);
  } finally {
    await ctx.close();
  }
});
