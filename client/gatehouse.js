// @ts-check
// @gatehouse/client: the browser side of a Gatehouse session, with no
// dependencies. The access token lives in this module's memory only; the
// refresh token stays in Gatehouse's HttpOnly cookie, which no script can
// read. Every method resolves to { data, error } and never throws.

/**
 * The API's error codes (README, "Errors"), and network_error when no
 * answer came at all (offline, DNS, CORS refused): then status is 0.
 * @typedef {'invalid_request' | 'invalid_state' | 'invalid_grant' | 'access_denied' |
 *   'unauthorized' | 'invalid_token' | 'unsupported_provider' | 'not_found' |
 *   'method_not_allowed' | 'identity_in_use' | 'account_exists' | 'last_identity' |
 *   'request_too_large' | 'unsupported_media_type' | 'rate_limited' |
 *   'request_header_too_large' | 'server_error' | 'temporarily_unavailable' |
 *   'network_error'} ErrorCode
 */

/**
 * @typedef {object} GatehouseError
 * @property {ErrorCode} code branch on this
 * @property {string} description for humans
 * @property {number} status the HTTP status, 0 for network_error
 * @property {string[]} [providers] with account_exists: the providers the existing user signs in with
 */

/**
 * @template T
 * @typedef {{ data: T, error: null } | { data: null, error: GatehouseError }} Result
 */

/**
 * @typedef {object} User
 * @property {string} id
 * @property {string | null} login
 * @property {string | null} name
 * @property {string | null} email
 * @property {boolean} email_verified
 * @property {string | null} picture
 * @property {string | null} company
 * @property {string | null} location
 * @property {string} created_at
 * @property {string} updated_at
 */

/**
 * @typedef {{ name: string, display_name: string }} Provider
 * @typedef {{ id: string, created_at: string, last_used_at: string, expires_at: string,
 *   user_agent: string, ip: string, current: boolean }} SessionInfo
 * @typedef {{ provider: string, display_name: string, subject: string, login: string | null,
 *   email: string | null, email_verified: boolean, linked_at: string, last_used_at: string }} Identity
 * @typedef {{ user: User, expiresAt: number }} Session expiresAt in the client clock's milliseconds
 * @typedef {'SIGNED_IN' | 'TOKEN_REFRESHED' | 'SIGNED_OUT'} AuthEvent
 * @typedef {(event: AuthEvent, session: Session | null) => void} AuthListener
 * @typedef {{ user: User, returnTo: string | null, identity?: Identity }} CallbackData
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} [url] Gatehouse's public URL (default: location.origin)
 * @property {() => number} [now] the clock in milliseconds (default: Date.now)
 * @property {typeof fetch} [fetch] the fetch to call Gatehouse and the app's API with
 * @property {string} [channel] the BroadcastChannel's name (default: "gatehouse"); give two
 *   clients of different Gatehouses on one origin different names
 */

const CSRF = { "X-Requested-With": "gatehouse" };
const RETURN_TO = "gatehouse.returnTo";
// Refresh this long before the access token expires (at most half its life).
const MARGIN = 30_000;
// Back-off after failed refreshes: 1 s, 2 s, 4 s … up to a minute.
const BACKOFF = 1000;
const BACKOFF_MAX = 60_000;

/** @type {Map<string, Promise<Result<any>>>} */
const callbacks = new Map();
/** @type {Promise<Result<any>> | null} */
let lastCallback = null;

/**
 * @param {ErrorCode} code
 * @param {string} description
 * @param {number} [status]
 * @returns {{ data: null, error: GatehouseError }}
 */
const fail = (code, description, status = 0) => ({ data: null, error: { code, description, status } });

/**
 * safePath reports whether p is a path on this origin: one leading "/",
 * not "//" or "/\" (which browsers read as another host).
 * @param {unknown} p
 */
const safePath = (p) => typeof p === "string" && /^\/(?![/\\])/.test(p);

/**
 * createClient returns a client for the Gatehouse at options.url.
 * @param {ClientOptions} [options]
 */
export function createClient(options = {}) {
  const base = (options.url ?? globalThis.location.origin).replace(/\/+$/, "");
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? /** @type {typeof fetch} */ ((input, init) => globalThis.fetch(input, init));

  /** @type {string | null} */
  let token = null;
  /** @type {User | null} */
  let user = null;
  let expiresAt = 0;
  // When to refresh: 30 s before expiresAt, or half-way for short tokens.
  let refreshAt = 0;
  // Whether the last word from Gatehouse was "no session": then
  // getAccessToken answers null without asking again.
  let signedOut = false;
  // Bumped by every sign-out: a refresh begun before it is discarded.
  let epoch = 0;
  /** @type {Promise<Result<string | null>> | null} */
  let refreshing = null;
  let failures = 0;
  let retryAt = 0;
  /** @type {GatehouseError | null} */
  let lastError = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Set<AuthListener>} */
  const listeners = new Set();
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(options.channel ?? "gatehouse") : null;

  /**
   * request calls Gatehouse (or, with a full URL, any API) and maps the
   * answer to a Result.
   * @param {string} method
   * @param {string} path
   * @param {{ token?: string | null, body?: object, csrf?: boolean }} [o]
   * @returns {Promise<Result<any>>}
   */
  async function request(method, path, o = {}) {
    /** @type {Record<string, string>} */
    const headers = o.csrf ? { ...CSRF } : {};
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    if (o.body) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await doFetch(base + path, {
        method,
        headers,
        body: o.body && JSON.stringify(o.body),
        credentials: "include",
      });
    } catch (e) {
      return fail("network_error", String(/** @type {Error} */ (e)?.message ?? e));
    }
    let body = null;
    if (res.status !== 204) {
      try {
        body = await res.json();
      } catch {
        // not JSON (a proxy's error page): the status speaks
      }
    }
    if (res.ok) return { data: body, error: null };
    const r = fail(body?.error ?? (res.status >= 500 ? "server_error" : "invalid_request"),
      body?.error_description ?? `HTTP ${res.status}`, res.status);
    if (body?.providers) r.error.providers = body.providers;
    return r;
  }

  /**
   * @param {AuthEvent} event
   * @param {boolean} tell whether to tell the other tabs
   */
  function emit(event, tell) {
    // Never a token on the channel: only what happened.
    if (tell) channel?.postMessage({ type: event });
    const session = user && token ? { user, expiresAt } : null;
    for (const cb of [...listeners]) {
      try {
        cb(event, session);
      } catch (e) {
        setTimeout(() => { throw e; });
      }
    }
  }

  /**
   * @param {number} ms
   * @param {() => void} f
   */
  function schedule(ms, f) {
    clearTimeout(timer);
    timer = setTimeout(f, Math.max(0, ms));
  }

  /**
   * @param {{ access_token: string, expires_in: number, user: User }} body
   * @param {boolean} tell
   */
  function setSession(body, tell) {
    const was = token;
    token = body.access_token;
    user = body.user;
    const life = body.expires_in * 1000;
    expiresAt = now() + life;
    refreshAt = expiresAt - Math.min(MARGIN, life / 2);
    signedOut = false;
    failures = 0;
    retryAt = 0;
    schedule(refreshAt - now(), () => refresh());
    if (was !== token) emit(was ? "TOKEN_REFRESHED" : "SIGNED_IN", tell);
  }

  /** @param {boolean} tell */
  function drop(tell) {
    const had = token !== null;
    epoch++;
    token = user = null;
    expiresAt = refreshAt = 0;
    signedOut = true;
    refreshing = null;
    failures = 0;
    retryAt = 0;
    clearTimeout(timer);
    if (had || tell) emit("SIGNED_OUT", tell);
  }

  /** @returns {Result<string | null>} */
  const current = () => (token && now() < expiresAt ? { data: token, error: null }
    : lastError ? { data: null, error: lastError } : { data: null, error: null });

  /**
   * refresh trades the refresh cookie for a new access token. Calls made
   * while one is in flight share it: a rotated token must not be presented
   * twice by one tab (tabs racing each other are the server's grace
   * window's job). In back-off it answers without asking, unless forced.
   * @param {boolean} [force]
   * @returns {Promise<Result<string | null>>}
   */
  function refresh(force = false) {
    if (refreshing) return refreshing;
    if (!force && now() < retryAt) return Promise.resolve(current());
    const started = epoch;
    const p = (async () => {
      const r = await request("POST", "/auth/refresh", { csrf: true });
      if (started !== epoch) return { data: null, error: null };
      if (r.error) {
        if (r.error.status === 401) {
          lastError = null;
          // The cookie is the same in every tab: they are signed out too.
          drop(token !== null);
          return { data: null, error: null };
        }
        lastError = r.error;
        failures++;
        retryAt = now() + Math.min(BACKOFF_MAX, BACKOFF * 2 ** (failures - 1));
        if (token) schedule(retryAt - now(), () => refresh());
        return current();
      }
      lastError = null;
      if (!r.data?.access_token) {
        drop(false);
        return { data: null, error: null };
      }
      setSession(r.data, true);
      return { data: token, error: null };
    })();
    refreshing = p;
    p.finally(() => {
      if (refreshing === p) refreshing = null;
    });
    return p;
  }

  /**
   * getAccessToken answers the access token, refreshing it first when it
   * expires within 30 s (half its life for short ones), or null when
   * signed out. After a failed refresh it answers the token while it
   * lasts, then the error; it asks again only after a back-off (1 s,
   * doubling up to a minute).
   * @returns {Promise<Result<string | null>>}
   */
  async function getAccessToken() {
    if (token && now() < refreshAt) {
      return { data: token, error: null };
    }
    if (!token && signedOut && !refreshing) return { data: null, error: null };
    return refresh();
  }

  /**
   * authed calls Gatehouse with the access token; on a 401 it refreshes
   * once and retries.
   * @param {string} method
   * @param {string} path
   * @returns {Promise<Result<any>>}
   */
  async function authed(method, path) {
    const t = await getAccessToken();
    if (t.error) return t;
    if (!t.data) return fail("unauthorized", "not signed in", 401);
    const r = await request(method, path, { token: t.data });
    if (r.error?.status !== 401) return r;
    const again = token === t.data ? await refresh() : current();
    return again.data ? request(method, path, { token: again.data }) : r;
  }

  /**
   * @param {string} path
   * @param {string | undefined} returnTo
   * @param {boolean} bearer
   * @returns {Promise<Result<null>>}
   */
  async function redirect(path, returnTo, bearer) {
    if (returnTo !== undefined && !safePath(returnTo)) {
      return fail("invalid_request", "returnTo must be a path on this site, starting with one /");
    }
    const r = await (bearer ? authed("GET", path) : request("GET", path));
    if (r.error) return r;
    if (returnTo) globalThis.sessionStorage?.setItem(RETURN_TO, returnTo);
    else globalThis.sessionStorage?.removeItem(RETURN_TO);
    globalThis.location.assign(r.data.url);
    return { data: null, error: null };
  }

  /** @param {MessageEvent} e */
  function onMessage(e) {
    const type = e.data?.type;
    if (type === "SIGNED_OUT") {
      if (token || !signedOut || refreshing) drop(false);
    } else if ((type === "SIGNED_IN" || type === "TOKEN_REFRESHED") && !token) {
      // Another tab has a session: this tab shares its cookie.
      refresh(true);
    }
  }
  channel?.addEventListener("message", onMessage);

  // Timers stop while the computer sleeps: catch up when the tab is seen.
  const onVisible = () => {
    if (globalThis.document?.visibilityState === "visible" && token && now() >= refreshAt) refresh();
  };
  globalThis.document?.addEventListener("visibilitychange", onVisible);

  const client = {
    /**
     * The providers Gatehouse offers.
     * @returns {Promise<Result<Provider[]>>}
     */
    async providers() {
      const r = await request("GET", "/auth/providers");
      return r.error ? r : { data: r.data.providers, error: null };
    },

    /**
     * signIn sends the browser to the provider. returnTo, a path on this
     * site, is handed back by handleCallback. It resolves with an error
     * only if it cannot redirect.
     * @param {string} provider
     * @param {{ returnTo?: string }} [o]
     */
    signIn(provider, o = {}) {
      return redirect(`/auth/${encodeURIComponent(provider)}/login`, o.returnTo, false);
    },

    /**
     * link sends the signed-in browser to the provider to link another
     * account to this user; handleCallback answers the new identity.
     * @param {string} provider
     * @param {{ returnTo?: string }} [o]
     */
    link(provider, o = {}) {
      return redirect(`/auth/${encodeURIComponent(provider)}/login?link=1`, o.returnTo, true);
    },

    /**
     * handleCallback finishes a login on the redirect route
     * /auth/{provider}: it posts the code and state to Gatehouse and
     * removes them from the address bar. A second call for the same code
     * (React StrictMode, hot reload) shares the first one's answer.
     * @param {{ provider?: string }} [o]
     * @returns {Promise<Result<CallbackData>>}
     */
    async handleCallback(o = {}) {
      const loc = new URL(globalThis.location.href);
      const q = loc.searchParams;
      const code = q.get("code");
      const error = q.get("error");
      const state = q.get("state") ?? "";
      const key = code ?? (error && `error:${state}`);
      let shared = key ? callbacks.get(key) : lastCallback;
      if (!shared) {
        if (!key) return fail("invalid_request", "no code or error in the address");
        const provider = o.provider ?? loc.pathname.split("/").filter(Boolean).pop() ?? "";
        const returnTo = globalThis.sessionStorage?.getItem(RETURN_TO) ?? null;
        globalThis.sessionStorage?.removeItem(RETURN_TO);
        shared = request("POST", `/auth/${encodeURIComponent(provider)}/authorize`,
          { body: code ? { code, state } : { error: error ?? "", state } })
          .then((r) => (r.error ? r : { data: { ...r.data, returnTo: safePath(returnTo) ? returnTo : null }, error: null }));
        callbacks.set(key, shared);
        lastCallback = shared;
      }
      for (const p of ["code", "state", "error", "error_description", "error_uri", "iss"]) q.delete(p);
      globalThis.history?.replaceState(globalThis.history.state, "", loc.pathname + loc.search + loc.hash);
      const r = await shared;
      if (r.error) return r;
      const { access_token: at, expires_in: _e, token_type: _t, ...data } = r.data;
      if (at) setSession(r.data, true);
      return { data, error: null };
    },

    getAccessToken,

    /**
     * refresh trades the refresh cookie for a new access token now,
     * whatever the token's age (a refresh in flight is shared).
     * @returns {Promise<Result<string | null>>}
     */
    refresh: () => refresh(true),

    /**
     * fetch is the app's fetch with the access token as a bearer token; on
     * a 401 it refreshes once and retries. Like fetch, it answers the
     * Response and rejects only when no answer came.
     * @param {RequestInfo | URL} input
     * @param {RequestInit} [init]
     * @returns {Promise<Response>}
     */
    async fetch(input, init = {}) {
      const send = (/** @type {string | null} */ t) => {
        const headers = new Headers(init.headers);
        if (t) headers.set("Authorization", `Bearer ${t}`);
        return doFetch(input, { ...init, headers });
      };
      const t = (await getAccessToken()).data;
      const res = await send(t);
      if (res.status !== 401 || !t) return res;
      const again = token === t ? await refresh() : current();
      return again.data ? send(again.data) : res;
    },

    /** The signed-in user, or null. */
    user: () => (token ? user : null),

    /**
     * onAuthStateChange calls cb on SIGNED_IN, TOKEN_REFRESHED and
     * SIGNED_OUT (with null), in this tab and when another tab signs in or
     * out. It returns the function that unsubscribes.
     * @param {AuthListener} cb
     */
    onAuthStateChange(cb) {
      listeners.add(cb);
      return () => void listeners.delete(cb);
    },

    /**
     * signOut ends this session, or with everywhere every session of the
     * user, here and in every tab.
     * @param {{ everywhere?: boolean }} [o]
     * @returns {Promise<Result<null>>}
     */
    async signOut(o = {}) {
      // The logout must present the newest cookie: let a refresh in flight
      // land (its answer is discarded).
      const pending = refreshing;
      drop(true);
      await pending;
      const r = await request("POST", o.everywhere ? "/auth/logout?scope=global" : "/auth/logout", { csrf: true });
      return r.error ? r : { data: null, error: null };
    },

    /**
     * The user's active sessions.
     * @returns {Promise<Result<SessionInfo[]>>}
     */
    async sessions() {
      const r = await authed("GET", "/auth/sessions");
      return r.error ? r : { data: r.data.sessions, error: null };
    },

    /**
     * endSession ends one of the user's sessions; ending this browser's
     * signs out here too.
     * @param {string} id
     * @returns {Promise<Result<null>>}
     */
    async endSession(id) {
      const sid = token && claims(token).sid;
      const r = await authed("DELETE", `/auth/sessions/${encodeURIComponent(id)}`);
      if (r.error) return r;
      if (id === sid) return client.signOut();
      return { data: null, error: null };
    },

    /**
     * The user's linked accounts.
     * @returns {Promise<Result<Identity[]>>}
     */
    async identities() {
      const r = await authed("GET", "/me/identities");
      return r.error ? r : { data: r.data.identities, error: null };
    },

    /**
     * unlink removes a linked account; subject is needed only when two
     * accounts of the provider are linked.
     * @param {string} provider
     * @param {string} [subject]
     * @returns {Promise<Result<null>>}
     */
    async unlink(provider, subject) {
      const path = `/me/identities/${encodeURIComponent(provider)}` + (subject ? `/${encodeURIComponent(subject)}` : "");
      const r = await authed("DELETE", path);
      return r.error ? r : { data: null, error: null };
    },

    /** dispose stops timers and listeners and closes the channel. */
    dispose() {
      clearTimeout(timer);
      listeners.clear();
      channel?.close();
      globalThis.document?.removeEventListener("visibilitychange", onVisible);
    },
  };
  return client;
}

/**
 * claims decodes a JWT's payload (unverified: for the session id only).
 * @param {string} jwt
 * @returns {{ sid?: string }}
 */
function claims(jwt) {
  try {
    return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

/** @typedef {ReturnType<typeof createClient>} Client */
