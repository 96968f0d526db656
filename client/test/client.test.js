// The client against a real `gatehouse serve` with the development login.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "../gatehouse.js";
import { approve, browser, clock, fakeWindow, startGatehouse } from "./harness.js";

/** @type {Awaited<ReturnType<typeof startGatehouse>>} */
let gh;
before(async () => {
  gh = await startGatehouse();
});
after(async () => {
  await gh?.stop();
});

const MINUTE = 60_000;
const TTL = 15 * MINUTE; // GATEHOUSE_ACCESS_TOKEN_TTL's default

let channels = 0;
const toDispose = [];

/**
 * tab makes a client in browser b. Tabs of one browser share its cookie
 * jar and its BroadcastChannel; another browser gets another channel.
 */
function tab(b, c = clock()) {
  b.channel ??= `gatehouse-test-${channels++}`;
  const client = createClient({ url: gh.base, fetch: b.fetch, now: c.now, channel: b.channel });
  const events = [];
  client.onAuthStateChange((event, session) => events.push({ event, user: session?.user?.email ?? null }));
  toDispose.push(client);
  return { client, events, clock: c };
}

after(() => {
  for (const c of toDispose) c.dispose();
});

/** signIn goes through the whole login: signIn, the dev login page, handleCallback. */
async function signIn(client, b, email = "ada@example.com", returnTo = undefined) {
  const w = fakeWindow(`${gh.base}/`);
  const started = await client.signIn("dev", { returnTo });
  assert.equal(started.error, null);
  const q = await approve(b, w.location.assigned, "Ada Lovelace", email);
  w.location.href = `${gh.base}/auth/dev?${q}`;
  const r = await client.handleCallback();
  assert.equal(r.error, null, JSON.stringify(r.error));
  return r.data;
}

async function waitFor(cond, what) {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const networkDown = () => Promise.reject(new TypeError("fetch failed"));

describe("signing in", () => {
  test("providers lists the development login", async () => {
    const { client } = tab(browser());
    const r = await client.providers();
    assert.equal(r.error, null);
    assert.deepEqual(r.data.map((p) => p.name), ["dev"]);
  });

  test("signed out: one quiet refresh, then no more requests", async () => {
    const b = browser();
    const { client, events } = tab(b);
    assert.deepEqual(await client.getAccessToken(), { data: null, error: null });
    assert.deepEqual(await client.getAccessToken(), { data: null, error: null });
    assert.equal(b.count("POST", "/auth/refresh"), 1);
    assert.equal(client.user(), null);
    assert.deepEqual(events, []);
  });

  test("sign in, handleCallback twice: one POST, the address cleaned, returnTo back", async () => {
    const b = browser();
    const { client, events } = tab(b);
    const w = fakeWindow(`${gh.base}/`);
    assert.equal((await client.signIn("dev", { returnTo: "/settings?tab=2" })).error, null);
    assert.match(w.location.assigned, /\/dev-login\/authorize\?/);
    const q = await approve(b, w.location.assigned, "Ada Lovelace", "ada@example.com");
    w.location.href = `${gh.base}/auth/dev?${q}&keep=1#top`;

    const [first, second] = await Promise.all([client.handleCallback(), client.handleCallback()]);
    const third = await client.handleCallback(); // after the address was cleaned
    assert.equal(b.count("POST", "/auth/dev/authorize"), 1);
    for (const r of [first, second, third]) {
      assert.equal(r.error, null);
      assert.equal(r.data.user.email, "ada@example.com");
      assert.equal(r.data.returnTo, "/settings?tab=2");
      assert.equal("access_token" in r.data, false, "handleCallback hands out the token");
    }
    assert.equal(w.location.href, `${gh.base}/auth/dev?keep=1#top`);
    assert.equal(client.user()?.email, "ada@example.com");
    assert.deepEqual(events, [{ event: "SIGNED_IN", user: "ada@example.com" }]);
    const t = await client.getAccessToken();
    assert.match(t.data ?? "", /^ey/);
    assert.equal(b.count("POST", "/auth/refresh"), 0);
    const me = await client.fetch(`${gh.base}/me`);
    assert.equal(me.status, 200);
    assert.equal((await me.json()).email, "ada@example.com");
  });

  test("handleCallback twice for one code shares the POST even if the address keeps it", async () => {
    const b = browser();
    const { client } = tab(b);
    const w = fakeWindow(`${gh.base}/`);
    await client.signIn("dev");
    const q = await approve(b, w.location.assigned, "Ada Lovelace", "ada@example.com");
    w.location.href = `${gh.base}/auth/dev?${q}`;
    w.history.replaceState = () => {}; // a router that puts the address back
    const first = await client.handleCallback();
    const second = await client.handleCallback();
    assert.equal(b.count("POST", "/auth/dev/authorize"), 1);
    assert.equal(first.error, null);
    assert.deepEqual(second, first);
  });

  test("returnTo must be a path on this site", async () => {
    const b = browser();
    const { client } = tab(b);
    fakeWindow(`${gh.base}/`);
    for (const bad of ["https://evil.example/", "//evil.example/", "/\\evil.example", "settings"]) {
      const r = await client.signIn("dev", { returnTo: bad });
      assert.equal(r.error?.code, "invalid_request", bad);
    }
    assert.equal(b.sent.length, 0);
  });

  test("errors come back as codes", async () => {
    const b = browser();
    const { client } = tab(b);
    const w = fakeWindow(`${gh.base}/`);

    assert.equal((await client.signIn("nope")).error?.code, "unsupported_provider");

    // The person cancels at the provider.
    await client.signIn("dev");
    const q = await approve(b, w.location.assigned, "Ada", "ada@example.com", "deny");
    w.location.href = `${gh.base}/auth/dev?${q}`;
    const denied = await client.handleCallback();
    assert.deepEqual([denied.error?.code, denied.error?.status], ["access_denied", 400]);
    assert.equal(w.location.href, `${gh.base}/auth/dev`);

    // A made-up state.
    w.location.href = `${gh.base}/auth/dev?code=abc&state=forged`;
    assert.equal((await client.handleCallback()).error?.code, "invalid_state");

    // Not signed in.
    assert.equal((await client.sessions()).error?.code, "unauthorized");

    // The last account cannot be unlinked.
    await signIn(client, b, "last@example.com");
    const r = await client.unlink("dev");
    assert.deepEqual([r.error?.code, r.error?.status], ["last_identity", 409]);
    assert.equal(typeof r.error?.description, "string");

    // No answer at all.
    const offline = createClient({ url: "http://127.0.0.1:1", channel: "offline" });
    toDispose.push(offline);
    const p = await offline.providers();
    assert.deepEqual([p.data, p.error?.code, p.error?.status], [null, "network_error", 0]);
  });
});

describe("access tokens", () => {
  test("refreshed ahead of expiry, once for concurrent calls", async () => {
    const b = browser();
    const { client, events, clock: c } = tab(b);
    await signIn(client, b);
    const first = (await client.getAccessToken()).data;

    c.advance(TTL - 31_000);
    assert.equal((await client.getAccessToken()).data, first);
    assert.equal(b.count("POST", "/auth/refresh"), 0);

    c.advance(2_000); // 29 s before expiry
    const all = await Promise.all(Array.from({ length: 5 }, () => client.getAccessToken()));
    assert.equal(b.count("POST", "/auth/refresh"), 1);
    const second = all[0].data;
    assert.notEqual(second, first);
    for (const r of all) assert.deepEqual(r, { data: second, error: null });
    assert.deepEqual(events.map((e) => e.event), ["SIGNED_IN", "TOKEN_REFRESHED"]);

    // refresh() does not wait for the token to age.
    const third = await client.refresh();
    assert.equal(b.count("POST", "/auth/refresh"), 2);
    assert.notEqual(third.data, second);

    // A reload: a new tab picks up the session with the cookie.
    const reload = tab(b);
    assert.match((await reload.client.getAccessToken()).data ?? "", /^ey/);
    assert.equal(reload.client.user()?.email, "ada@example.com");
  });

  test("a refresh that lands after signOut is discarded", async () => {
    const b = browser();
    const { client, events, clock: c } = tab(b);
    await signIn(client, b);
    let release;
    const held = new Promise((r) => (release = r));
    b.hook = async (method, path) => {
      if (path === "/auth/refresh") await held;
      return undefined;
    };
    c.advance(TTL);
    const pending = client.getAccessToken();
    await waitFor(() => b.count("POST", "/auth/refresh") === 1, "the refresh to be sent");
    const out = client.signOut();
    release();
    assert.deepEqual(await pending, { data: null, error: null });
    assert.equal((await out).error, null);
    b.hook = null;
    assert.equal(client.user(), null);
    assert.deepEqual(await client.getAccessToken(), { data: null, error: null });
    assert.deepEqual(events.map((e) => e.event), ["SIGNED_IN", "SIGNED_OUT"]);
    // The logout presented the rotated cookie: nothing is left to refresh.
    assert.deepEqual(await tab(b).client.getAccessToken(), { data: null, error: null });
  });

  test("back-off after failed refreshes", async () => {
    const b = browser();
    const { client, clock: c } = tab(b);
    await signIn(client, b);
    const token = (await client.getAccessToken()).data;
    b.hook = (_m, path) => (path === "/auth/refresh" ? networkDown() : undefined);
    const attempts = () => b.count("POST", "/auth/refresh");

    c.advance(TTL - 20_000);
    // The token still works: the app gets it, and no error.
    assert.deepEqual(await client.getAccessToken(), { data: token, error: null });
    assert.equal(attempts(), 1);
    await client.getAccessToken();
    assert.equal(attempts(), 1, "asked again within the back-off");
    c.advance(1_000);
    await client.getAccessToken();
    assert.equal(attempts(), 2);
    c.advance(1_000);
    await client.getAccessToken();
    assert.equal(attempts(), 2, "the back-off did not double");
    c.advance(1_000);
    await client.getAccessToken();
    assert.equal(attempts(), 3);

    c.advance(20_000); // expired
    const r = await client.getAccessToken();
    assert.deepEqual([r.data, r.error?.code], [null, "network_error"]);

    b.hook = null;
    c.advance(60_000);
    const back = await client.getAccessToken();
    assert.equal(back.error, null);
    assert.notEqual(back.data, token);
  });
});

describe("fetch", () => {
  test("a 401 refreshes once and retries", async () => {
    const b = browser();
    const { client } = tab(b);
    await signIn(client, b);
    let once = true;
    b.hook = (_m, path) => {
      if (path === "/me" && once) {
        once = false;
        return new Response('{"error":"invalid_token"}', { status: 401 });
      }
      return undefined;
    };
    const res = await client.fetch(`${gh.base}/me`, { headers: { Accept: "application/json" } });
    assert.equal(res.status, 200);
    assert.equal(b.count("POST", "/auth/refresh"), 1);
    const me = b.sent.filter((r) => r.path === "/me");
    assert.equal(me.length, 2);
    assert.notEqual(me[0].auth, me[1].auth);
  });

  test("a session ended elsewhere: one refresh, then signed out", async () => {
    const a = browser();
    const other = browser();
    const { client, events } = tab(a);
    await signIn(client, a, "grace@example.com");
    const admin = tab(other).client;
    await signIn(admin, other, "grace@example.com");
    const list = (await admin.sessions()).data ?? [];
    assert.equal(list.length, 2);
    const mine = list.find((s) => !s.current);
    assert.equal((await admin.endSession(mine.id)).error, null);

    const res = await client.fetch(`${gh.base}/me`);
    assert.equal(res.status, 401);
    assert.equal(a.count("POST", "/auth/refresh"), 1);
    assert.equal(a.sent.filter((r) => r.path === "/me").length, 1);
    assert.equal(client.user(), null);
    assert.deepEqual(events.map((e) => e.event), ["SIGNED_IN", "SIGNED_OUT"]);

    // Ending one's own session signs out here.
    const gone = await admin.endSession("no-such-session");
    assert.deepEqual([gone.error?.code, gone.error?.status], ["not_found", 404]);
    const current = (await admin.sessions()).data?.find((s) => s.current);
    assert.equal((await admin.endSession(current.id)).error, null);
    assert.equal(admin.user(), null);
    assert.deepEqual(await tab(other).client.getAccessToken(), { data: null, error: null });
  });
});

describe("tabs", () => {
  test("sign in, refresh and sign out reach the other tabs, never a token", async () => {
    const b = browser();
    const one = tab(b);
    const two = tab(b);
    const spy = new BroadcastChannel(b.channel);
    const messages = [];
    spy.onmessage = (e) => messages.push(e.data);
    try {
      assert.deepEqual(await two.client.getAccessToken(), { data: null, error: null });
      await signIn(one.client, b);
      await waitFor(() => two.client.user() !== null, "the second tab to sign in");
      assert.deepEqual(two.events.map((e) => e.event), ["SIGNED_IN"]);

      assert.equal((await one.client.signOut()).error, null);
      await waitFor(() => two.client.user() === null, "the second tab to sign out");
      assert.deepEqual(two.events.map((e) => e.event), ["SIGNED_IN", "SIGNED_OUT"]);
      assert.deepEqual(await two.client.getAccessToken(), { data: null, error: null });

      for (const m of messages) {
        assert.deepEqual(Object.keys(m), ["type"]);
      }
      assert.ok(messages.some((m) => m.type === "SIGNED_OUT"));
    } finally {
      spy.close();
    }
  });

  test("signOut everywhere ends the other browsers' sessions", async () => {
    const a = browser();
    const other = browser();
    const here = tab(a);
    const there = tab(other);
    await signIn(here.client, a, "linus@example.com");
    await signIn(there.client, other, "linus@example.com");
    assert.equal((await here.client.signOut({ everywhere: true })).error, null);
    assert.equal(a.count("POST", "/auth/logout?scope=global"), 1);

    const res = await there.client.fetch(`${gh.base}/me`);
    assert.equal(res.status, 401);
    assert.equal(there.client.user(), null);
    assert.deepEqual(there.events.map((e) => e.event), ["SIGNED_IN", "SIGNED_OUT"]);
  });
});
