// The Gatehouse demo: a single-page app in one ES module, no framework.
//
// The access token is kept in this module's memory only, never in storage.
// The refresh token is in an HttpOnly cookie that this script cannot read:
// POST /auth/refresh turns it into a new access token, on load (so a reload
// keeps you signed in) and shortly before the access token expires.

const $ = (id) => document.getElementById(id);

// Cookie-authenticated endpoints (refresh, logout) need this header: a
// cross-site form cannot send it.
const CSRF = { "X-Requested-With": "gatehouse" };

// { token, expiresAt } while signed in, else null.
let session = null;
// The refresh in flight, shared by everyone who asks for one.
let refreshing = null;
let refreshTimer = 0;
let refreshAt = 0;

function show(id) {
  for (const s of ["busy", "signed-out", "error", "signed-in"]) {
    $(s).hidden = s !== id;
  }
}

function busy(text) {
  $("busy-text").textContent = text;
  show("busy");
}

async function call(path, options = {}) {
  const res = await fetch(path, { credentials: "same-origin", ...options });
  let body = null;
  if (res.status !== 204) {
    try {
      body = await res.json();
    } catch {
      // not JSON; handled below
    }
  }
  if (!res.ok) {
    const err = new Error(body?.error_description || `HTTP ${res.status}`);
    err.code = body?.error || "http_error";
    err.status = res.status;
    throw err;
  }
  return body;
}

function fail(err, title = "Sign-in failed") {
  $("error-title").textContent = title;
  $("error-code").textContent = err.code || "error";
  $("error-text").textContent = err.message;
  show("error");
}

// ---- Session: access token in memory, refresh through the cookie ----

function setSession(res) {
  session = { token: res.access_token, expiresAt: Date.now() + res.expires_in * 1000 };
  scheduleRefresh(res.expires_in);
}

function forget() {
  session = null;
  clearTimeout(refreshTimer);
  refreshTimer = 0;
  refreshAt = 0;
}

// Refresh a minute before the token expires, or for tokens of two minutes
// or less at 80% of their lifetime, and never sooner than 5 s from now.
function scheduleRefresh(expiresIn) {
  const seconds = Math.max(5, expiresIn > 120 ? expiresIn - 60 : expiresIn * 0.8);
  schedule(seconds * 1000);
}

function schedule(ms) {
  clearTimeout(refreshTimer);
  refreshAt = Date.now() + ms;
  refreshTimer = setTimeout(backgroundRefresh, ms);
}

// refresh asks for a new access token with the refresh cookie. It resolves
// to true when signed in, false when the cookie is missing or no longer
// valid (401), and rejects on any other failure. Calls made while one is in
// flight share it: a rotated refresh token must not be presented twice.
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        setSession(await call("/auth/refresh", { method: "POST", headers: CSRF }));
        return true;
      } catch (err) {
        if (err.status === 401) {
          forget();
          return false;
        }
        throw err;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function backgroundRefresh() {
  if (!session) {
    return;
  }
  try {
    if (!(await refresh())) {
      await showProviders();
      return;
    }
    $("expires").textContent = new Date(session.expiresAt).toLocaleTimeString();
    await showSessions();
  } catch (err) {
    if (session && Date.now() < session.expiresAt - 5000) {
      // A network or server hiccup: try again while the token still works.
      schedule(10_000);
    } else {
      forget();
      fail(err, "Your session could not be renewed");
    }
  }
}

// A timer does not run while the computer sleeps: catch up on return.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && session && refreshAt && Date.now() >= refreshAt) {
    backgroundRefresh();
  }
});

// authed calls an endpoint with the access token. On a 401 it refreshes
// once and retries; if the session has ended, it shows the sign-in page and
// resolves to undefined.
async function authed(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    if (!session) {
      await showProviders();
      return undefined;
    }
    try {
      return await call(path, {
        ...options,
        headers: { ...options.headers, Authorization: `Bearer ${session.token}` },
      });
    } catch (err) {
      if (err.status !== 401 || attempt > 0) {
        throw err;
      }
      await refresh();
    }
  }
}

// ---- Signed out ----

async function showProviders() {
  const { providers } = await call("/auth/providers");
  const list = $("providers");
  list.replaceChildren();
  for (const p of providers) {
    const b = document.createElement("button");
    b.className = `button provider provider-${p.name}`;
    b.textContent = `Sign in with ${p.display_name}`;
    b.addEventListener("click", () => startLogin(p.name, b));
    list.append(b);
  }
  $("no-providers").hidden = providers.length > 0;
  show("signed-out");
}

async function startLogin(provider, button) {
  button.disabled = true;
  try {
    const { url } = await call(`/auth/${encodeURIComponent(provider)}/login`);
    location.assign(url);
  } catch (err) {
    button.disabled = false;
    fail(err);
  }
}

async function finishLogin(provider, params) {
  busy("Signing you in…");
  const body = { state: params.get("state") ?? "" };
  if (params.has("error")) {
    body.error = params.get("error");
  } else {
    body.code = params.get("code") ?? "";
  }
  const res = await call(`/auth/${encodeURIComponent(provider)}/authorize`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  setSession(res);
  await showMe();
}

// ---- Signed in ----

async function showMe() {
  const user = await authed("/me");
  if (!user) {
    return;
  }
  const display = user.name || user.login || user.email || "Signed in";
  $("display-name").textContent = display;
  $("login").textContent = user.login ? `@${user.login}` : "";
  $("email").textContent = user.email ?? "—";
  $("verified").textContent = user.email ? (user.email_verified ? "verified" : "unverified") : "";
  $("verified").className = `pill ${user.email_verified ? "ok" : "warn"}`;
  $("verified").hidden = !user.email;
  $("company").textContent = user.company ?? "—";
  $("location").textContent = user.location ?? "—";
  $("user-id").textContent = user.id;
  $("created").textContent = new Date(user.created_at).toLocaleString();
  $("expires").textContent = new Date(session.expiresAt).toLocaleTimeString();
  $("raw").textContent = JSON.stringify(user, null, 2);

  const initials = display.split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
  $("initials").textContent = initials;
  const avatar = $("avatar");
  if (user.picture) {
    avatar.src = user.picture;
    avatar.hidden = false;
    $("initials").hidden = true;
  } else {
    avatar.hidden = true;
    $("initials").hidden = false;
  }
  await showSessions();
  if (session) {
    show("signed-in");
  }
}

// A short name for a User-Agent string, e.g. "Chrome on Linux".
function describeAgent(ua) {
  if (!ua) {
    return "Unknown device";
  }
  const browsers = [
    [/Edg(A|iOS)?\//, "Edge"],
    [/OPR\//, "Opera"],
    [/Firefox\/|FxiOS\//, "Firefox"],
    [/HeadlessChrome\//, "Headless Chrome"],
    [/Chrome\/|CriOS\//, "Chrome"],
    [/Safari\//, "Safari"],
    [/^curl\//, "curl"],
  ];
  const systems = [
    [/Android/, "Android"],
    [/iPhone|iPad|iPod/, "iOS"],
    [/Mac OS X|Macintosh/, "macOS"],
    [/Windows/, "Windows"],
    [/CrOS/, "ChromeOS"],
    [/Linux/, "Linux"],
  ];
  const browser = browsers.find(([re]) => re.test(ua))?.[1];
  const system = systems.find(([re]) => re.test(ua))?.[1];
  if (browser && system) {
    return `${browser} on ${system}`;
  }
  return browser || system || ua.slice(0, 60);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function ago(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  if (Math.abs(seconds) < 60) {
    return "just now";
  }
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size) {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return "just now";
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) {
    e.className = className;
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

async function showSessions() {
  let res;
  try {
    res = await authed("/auth/sessions");
  } catch (err) {
    $("sessions-error").textContent = `Could not list the sessions: ${err.message}`;
    $("sessions-error").hidden = false;
    return;
  }
  if (!res) {
    return;
  }
  $("sessions-error").hidden = true;
  const sessions = [...res.sessions].sort(
    (a, b) => (b.current - a.current) || (Date.parse(b.last_used_at) - Date.parse(a.last_used_at)),
  );
  $("sessions-count").textContent = String(sessions.length);
  const list = $("sessions");
  list.replaceChildren();
  for (const s of sessions) {
    const item = el("li", s.current ? "session current" : "session");
    item.dataset.sessionId = s.id;

    const info = el("div", "session-info");
    const title = el("div", "session-title");
    title.append(el("span", "session-agent", describeAgent(s.user_agent)));
    if (s.current) {
      title.append(" ", el("span", "pill ok session-current", "this browser"));
    }
    info.append(title);

    const created = new Date(s.created_at);
    const used = new Date(s.last_used_at);
    const meta = el("div", "session-meta muted");
    const usedText = el("span", "session-used", `last used ${ago(used)}`);
    usedText.title = used.toLocaleString();
    meta.append(
      el("span", "session-ip", s.ip || "unknown IP"),
      " · ",
      el("span", "session-created", `signed in ${created.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}`),
      " · ",
      usedText,
    );
    info.append(meta);

    const ua = el("div", "session-ua muted", s.user_agent || "no user agent");
    ua.title = s.user_agent || "";
    info.append(ua);

    const end = el("button", "button small session-end", "Sign out");
    end.type = "button";
    end.setAttribute("aria-label", s.current ? "Sign out this browser" : `Sign out ${describeAgent(s.user_agent)}`);
    end.addEventListener("click", () => endSession(s, end));

    item.append(info, end);
    list.append(item);
  }
}

async function endSession(s, button) {
  button.disabled = true;
  try {
    await authed(`/auth/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
  } catch (err) {
    if (err.code !== "not_found") {
      button.disabled = false;
      $("sessions-error").textContent = `Could not end the session: ${err.message}`;
      $("sessions-error").hidden = false;
      return;
    }
    // Already gone: the list below no longer shows it.
  }
  if (s.current) {
    // The session has ended; the logout only clears its cookie.
    await signOut();
    return;
  }
  await showSessions();
}

async function signOut(scope) {
  forget();
  busy("Signing you out…");
  try {
    await call(scope === "global" ? "/auth/logout?scope=global" : "/auth/logout", {
      method: "POST",
      headers: CSRF,
    });
  } catch (err) {
    fail(err, "Sign-out failed");
    return;
  }
  await showProviders();
}

async function main() {
  $("sign-out").addEventListener("click", () => signOut().catch(fail));
  $("sign-out-everywhere").addEventListener("click", () => signOut("global").catch(fail));
  $("error-back").addEventListener("click", () => showProviders().catch(fail));

  // The provider sends the browser back to /auth/{provider}?code&state.
  // Take the values, then remove them from the address bar and history
  // before anything else happens.
  const m = location.pathname.match(/^\/auth\/([a-z0-9][a-z0-9-]*)$/);
  if (m) {
    const params = new URLSearchParams(location.search);
    history.replaceState(null, "", "/");
    try {
      await finishLogin(m[1], params);
    } catch (err) {
      forget();
      fail(err);
    }
    return;
  }

  // Anywhere else: the refresh cookie, if there is a live one, signs us in.
  busy("Loading…");
  try {
    if (await refresh()) {
      await showMe();
    } else {
      await showProviders();
    }
  } catch (err) {
    forget();
    fail(err, "Could not restore your session");
  }
}

main();
