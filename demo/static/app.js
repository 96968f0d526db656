// The Gatehouse demo: a single-page app in one ES module, no framework.

const $ = (id) => document.getElementById(id);

// The access token is kept in memory only, never in storage.
let session = null;

function show(id) {
  for (const s of ["busy", "signed-out", "error", "signed-in"]) {
    $(s).hidden = s !== id;
  }
}

async function call(path, options = {}) {
  const res = await fetch(path, { credentials: "same-origin", ...options });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON; handled below
  }
  if (!res.ok) {
    const err = new Error(body?.error_description || `HTTP ${res.status}`);
    err.code = body?.error || "http_error";
    throw err;
  }
  return body;
}

function fail(err) {
  $("error-code").textContent = err.code || "error";
  $("error-text").textContent = err.message;
  show("error");
}

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
  show("busy");
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
  session = { token: res.access_token, expiresAt: Date.now() + res.expires_in * 1000 };
  await showMe();
}

async function showMe() {
  const user = await call("/me", { headers: { Authorization: `Bearer ${session.token}` } });
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
  show("signed-in");
}

function signOut() {
  session = null;
  showProviders().catch(fail);
}

async function main() {
  $("sign-out").addEventListener("click", signOut);
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
      fail(err);
    }
    return;
  }
  try {
    await showProviders();
  } catch (err) {
    fail(err);
  }
}

main();
