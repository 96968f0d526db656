// A real `gatehouse serve` for the client's tests, a cookie jar, and the
// bits of a browser the client touches (location, history, sessionStorage).

import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** freePort returns a loopback port nobody listens on. */
async function freePort() {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = /** @type {import("node:net").AddressInfo} */ (s.address());
  s.close();
  await once(s, "close");
  return port;
}

/**
 * startGatehouse builds the binary (or takes $GATEHOUSE_BIN) and runs
 * `gatehouse serve` with the development login on a free loopback port and
 * a fresh SQLite database.
 */
export async function startGatehouse() {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-client-"));
  let bin = process.env.GATEHOUSE_BIN;
  if (!bin) {
    bin = join(dir, "gatehouse");
    execFileSync("go", ["build", "-o", bin, "./cmd/gatehouse"], { cwd: repoRoot, stdio: "inherit" });
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(bin, ["serve"], {
    env: {
      ...process.env,
      GATEHOUSE_ADDR: `127.0.0.1:${port}`,
      GATEHOUSE_PUBLIC_URL: base,
      GATEHOUSE_DATA_DIR: dir,
      GATEHOUSE_DEV_LOGIN: "true",
      GATEHOUSE_DATABASE_URL: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let logs = "";
  proc.stdout.on("data", (b) => (logs += b));
  proc.stderr.on("data", (b) => (logs += b));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i === 200 || proc.exitCode !== null) {
      proc.kill();
      throw new Error(`gatehouse serve did not start:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base,
    logs: () => logs,
    async stop() {
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * browser returns a fetch with a cookie jar (what one browser profile
 * shares between its tabs), and a log of the requests it sent. A hook may
 * answer a request itself, or delay it.
 */
export function browser() {
  /** @type {Map<string, string>} */
  const cookies = new Map();
  /** @type {{ method: string, path: string, auth: string | null }[]} */
  const sent = [];
  const b = {
    cookies,
    sent,
    /** @type {((method: string, path: string) => Promise<Response | undefined> | Response | undefined) | null} */
    hook: null,
    /** @param {string} method @param {string} path */
    count: (method, path) => sent.filter((r) => r.method === method && r.path === path).length,
    /** @type {typeof fetch} */
    fetch: async (input, init = {}) => {
      const url = new URL(String(input));
      const method = init.method ?? "GET";
      const headers = new Headers(init.headers);
      sent.push({ method, path: url.pathname + url.search, auth: headers.get("authorization") });
      const answer = await b.hook?.(method, url.pathname + url.search);
      if (answer) return answer;
      if (cookies.size) headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
      const res = await fetch(url, { ...init, headers, redirect: "manual" });
      for (const line of res.headers.getSetCookie()) {
        const [pair, ...attrs] = line.split(";");
        const eq = pair.indexOf("=");
        const name = pair.slice(0, eq).trim();
        const gone = attrs.some((a) => /^\s*max-age=(0|-)/i.test(a)) || pair.slice(eq + 1) === "";
        if (gone) cookies.delete(name);
        else cookies.set(name, pair.slice(eq + 1));
      }
      return res;
    },
  };
  return b;
}

/** fakeWindow puts location, history and sessionStorage on globalThis. */
export function fakeWindow(href) {
  const store = new Map();
  const location = {
    href,
    get origin() {
      return new URL(this.href).origin;
    },
    /** @type {string | null} */
    assigned: null,
    /** @param {string} url */
    assign(url) {
      this.assigned = url;
    },
  };
  const history = {
    state: null,
    replaced: 0,
    replaceState(state, _title, url) {
      this.state = state;
      this.replaced++;
      location.href = new URL(url, location.href).href;
    },
  };
  Object.assign(globalThis, {
    location,
    history,
    sessionStorage: {
      getItem: (k) => (store.has(k) ? store.get(k) : null),
      setItem: (k, v) => store.set(k, String(v)),
      removeItem: (k) => store.delete(k),
    },
  });
  return { location, history, store };
}

/**
 * approve plays the person on the development login page, like
 * devlogin/devlogintest.Approve: it opens the authorize URL, submits the
 * form, and returns the query of the redirect back to the app.
 */
export async function approve(b, authURL, name, email, action = "allow") {
  const page = await (await b.fetch(authURL)).text();
  const m = page.match(/name="request" value="([^"]+)"/);
  if (!m) throw new Error(`no request field on the dev login page:\n${page}`);
  const res = await b.fetch(new URL("/dev-login/authorize", authURL).href, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ request: m[1], name, email, email_verified: "1", action }).toString(),
  });
  const loc = res.headers.get("location");
  if (res.status !== 302 || !loc) throw new Error(`dev login form: HTTP ${res.status}, Location ${loc}`);
  return new URL(loc).searchParams;
}

/** A clock the test moves. */
export function clock(start = Date.now()) {
  const c = { t: start, now: () => c.t, advance: (ms) => (c.t += ms) };
  return c;
}
