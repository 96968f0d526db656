// The Gatehouse demo: a single-page app in one ES module, no framework, on
// top of @gatehouse/client, the very file the client package publishes
// (served at /demo/gatehouse.js from the embedded client/ folder).
//
// The client keeps the access token in memory only, never in storage. The
// refresh token is in an HttpOnly cookie that no script can read: the
// client trades it for a new access token on load (so a reload keeps you
// signed in), shortly before the token expires, and when another tab signs
// in. Signing out in one tab signs out all of them.

import { createClient } from "./gatehouse.js";

const $ = (id) => document.getElementById(id);

// The path Gatehouse is served under ("" at the root, "/gatehouse" behind
// a proxy that serves it there): this module is at {base}/demo/app.js.
const base = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const gatehouse = createClient({ url: location.origin + base });
// For tests that drive two tabs (cmd/gatehouse's browser tests): the client
// holds nothing a page script of this origin could not reach anyway.
globalThis.gatehouseDemo = gatehouse;

let view = "busy";
let expiresAt = 0;

function show(id) {
  view = id;
  for (const s of ["busy", "signed-out", "error", "signed-in"]) {
    $(s).hidden = s !== id;
  }
}

function busy(text) {
  $("busy-text").textContent = text;
  show("busy");
}

// fail shows an error: the client's { code, description, status }.
function fail(err, title = "Sign-in failed") {
  $("error-title").textContent = title;
  $("error-code").textContent = err.code || "error";
  $("error-text").textContent = err.description || String(err.message || err);
  show("error");
}

// ---- Signed out ----

async function showProviders() {
  const { data: providers, error } = await gatehouse.providers();
  if (error) {
    fail(error, "Could not list the providers");
    return;
  }
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
  const { error } = await gatehouse.signIn(provider, { returnTo: base + "/" });
  if (error) {
    button.disabled = false;
    fail(error);
  }
}

// ---- Signed in ----

async function showMe() {
  const res = await gatehouse.fetch(base + "/me");
  if (res.status === 401) {
    await showProviders();
    return;
  }
  const user = await res.json();
  if (!res.ok) {
    fail({ code: user.error, description: user.error_description }, "Could not load your profile");
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
  showExpiry();
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
  if (gatehouse.user()) {
    show("signed-in");
  }
}

function showExpiry() {
  $("expires").textContent = expiresAt ? new Date(expiresAt).toLocaleTimeString() : "—";
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
  const { data, error } = await gatehouse.sessions();
  if (error) {
    if (error.status === 401) {
      return; // signed out meanwhile: SIGNED_OUT shows the sign-in page
    }
    $("sessions-error").textContent = `Could not list the sessions: ${error.description}`;
    $("sessions-error").hidden = false;
    return;
  }
  $("sessions-error").hidden = true;
  const sessions = [...data].sort(
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
  // Ending this browser's own session signs the client out (SIGNED_OUT).
  const { error } = await gatehouse.endSession(s.id);
  if (error && error.code !== "not_found") {
    button.disabled = false;
    $("sessions-error").textContent = `Could not end the session: ${error.description}`;
    $("sessions-error").hidden = false;
    return;
  }
  if (gatehouse.user()) {
    await showSessions(); // gone, or already gone
  }
}

async function signOut(everywhere) {
  busy("Signing you out…");
  // Every tab of this browser hears SIGNED_OUT at once.
  const { error } = await gatehouse.signOut({ everywhere });
  if (error) {
    fail(error, "Sign-out failed");
    return;
  }
  await showProviders();
}

// What happens here or in another tab of this browser.
gatehouse.onAuthStateChange((event, session) => {
  expiresAt = session?.expiresAt ?? 0;
  if (event === "SIGNED_OUT" && view !== "busy") {
    showProviders();
  } else if (event === "SIGNED_IN" && view === "signed-out") {
    showMe();
  } else if (event === "TOKEN_REFRESHED" && view === "signed-in") {
    showExpiry();
    showSessions();
  }
});

async function main() {
  $("sign-out").addEventListener("click", () => signOut(false));
  $("sign-out-everywhere").addEventListener("click", () => signOut(true));
  $("error-back").addEventListener("click", () => showProviders());

  // The provider sends the browser back to /auth/{provider}?code&state.
  // The client takes them and removes them from the address bar.
  if (/^\/auth\/[a-z0-9][a-z0-9-]*$/.test(location.pathname.slice(base.length))) {
    busy("Signing you in…");
    const { data, error } = await gatehouse.handleCallback();
    history.replaceState(null, "", data?.returnTo ?? base + "/");
    if (error) {
      fail(error);
      return;
    }
    await showMe();
    return;
  }

  // Anywhere else: the refresh cookie, if there is a live one, signs us in.
  busy("Loading…");
  const { data: token, error } = await gatehouse.getAccessToken();
  if (error) {
    fail(error, "Could not restore your session");
  } else if (token) {
    await showMe();
  } else {
    await showProviders();
  }
}

main();
