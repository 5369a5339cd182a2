// Browser tests of refreshing with a 4-second access token: on a timer
// with no failed call, once for four tabs, once for 20 parallel requests.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, launch, signIn, refreshCount, until, dump, requireBrowser, PASSWORD } from "./harness.mjs";

let world, browser;
const skip = { skip: false };
const TTL_MS = 4000;

before(async (t) => {
  if (!requireBrowser(t)) return (skip.skip = true);
  world = await startStack({ mode: "header", ttl: "4s" });
  browser = await launch(world);
});
after(async () => {
  await browser?.close();
  await world?.stop();
});

// A client made in the page from the demo's own copy of the library, with
// no timer: its tokens expire when the test says, for every tab at once.
async function manualClient(page, clientId) {
  await page.goto(world.app + "/");
  await page.waitForSelector("body[data-ready]");
  await page.evaluate(async ({ issuer, clientId }) => {
    const { createClient } = await import("/lib/index.js");
    globalThis.t = createClient({ issuer, clientId, autoRefresh: false });
    await globalThis.t.ready;
  }, { issuer: world.auth, clientId });
}

function fire(page, n) {
  return page.evaluate(async ({ api, n }) => {
    const all = await Promise.all(Array.from({ length: n }, () => globalThis.t.fetch(api + "/notes").then((r) => r.status, (e) => e.code)));
    return { statuses: all, signedIn: globalThis.t.session() !== null };
  }, { api: world.api, n });
}

test("automatic refresh with a short access-token TTL: no failed API call across 3 refreshes", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await signIn(page, world);
    const start = await refreshCount(world);
    // Call the API every 200 ms while the page refreshes on its timer.
    await page.evaluate((api) => {
      globalThis.results = [];
      globalThis.poll = setInterval(() => {
        globalThis.notesApp.auth.fetch(api + "/notes").then((r) => results.push(r.status), (e) => results.push(e.code));
      }, 200);
    }, world.api);
    await until(async () => (await refreshCount(world)) - start >= 3, 6 * TTL_MS, "three refreshes");
    await new Promise((r) => setTimeout(r, 500));
    const results = await page.evaluate(() => (clearInterval(globalThis.poll), globalThis.results));
    assert.ok(results.length >= 20, `only ${results.length} calls`);
    assert.deepEqual(results.filter((s) => s !== 200), [], "every call succeeded");
    assert.equal(await page.evaluate(() => document.body.dataset.state), "signed-in");
  } catch (e) {
    console.error(dump(world));
    throw e;
  } finally {
    await ctx.close();
  }
});

test("four tabs whose tokens expire at the same instant: exactly one refresh reaches the issuer, no tab is signed out", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const tabs = [];
    for (let i = 0; i < 4; i++) {
      const p = await ctx.newPage();
      await manualClient(p, "four-tabs");
      tabs.push(p);
    }
    await tabs[0].evaluate((pw) => globalThis.t.login("alice", pw), PASSWORD);
    // The other tabs get the same tokens handed over: one token, one expiry.
    await until(async () => {
      const tokens = await Promise.all(tabs.map((p) => p.evaluate(() => globalThis.t.session()?.accessToken ?? null)));
      return tokens.every((x) => x && x === tokens[0]);
    }, 3000, "tokens handed to every tab");
    await new Promise((r) => setTimeout(r, TTL_MS + 300)); // expired everywhere
    const before = await refreshCount(world);
    const answers = await Promise.all(tabs.map((p) => fire(p, 5)));
    assert.equal((await refreshCount(world)) - before, 1, "refresh requests at the issuer");
    for (const a of answers) {
      assert.deepEqual(a.statuses, [200, 200, 200, 200, 200]);
      assert.ok(a.signedIn);
    }
  } finally {
    await ctx.close();
  }
});

test("a page firing 20 parallel requests on an expired token: one refresh, 20 successes", skip, async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await manualClient(page, "parallel");
    await page.evaluate((pw) => globalThis.t.login("alice", pw), PASSWORD);
    await new Promise((r) => setTimeout(r, TTL_MS + 300));
    const before = await refreshCount(world);
    const { statuses, signedIn } = await fire(page, 20);
    assert.equal((await refreshCount(world)) - before, 1);
    assert.deepEqual(statuses, Array(20).fill(200));
    assert.ok(signedIn);
  } finally {
    await ctx.close();
  }
});
