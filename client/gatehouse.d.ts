/**
 * createClient returns a client for the Gatehouse at options.url.
 * @param {ClientOptions} [options]
 */
export function createClient(options?: ClientOptions): {
    /**
     * The providers Gatehouse offers.
     * @returns {Promise<Result<Provider[]>>}
     */
    providers(): Promise<Result<Provider[]>>;
    /**
     * signIn sends the browser to the provider. returnTo, a path on this
     * site, is handed back by handleCallback. It resolves with an error
     * only if it cannot redirect.
     * @param {string} provider
     * @param {{ returnTo?: string }} [o]
     */
    signIn(provider: string, o?: {
        returnTo?: string;
    }): Promise<Result<null>>;
    /**
     * link sends the signed-in browser to the provider to link another
     * account to this user; handleCallback answers the new identity.
     * @param {string} provider
     * @param {{ returnTo?: string }} [o]
     */
    link(provider: string, o?: {
        returnTo?: string;
    }): Promise<Result<null>>;
    /**
     * handleCallback finishes a login on the redirect route
     * /auth/{provider}: it posts the code and state to Gatehouse and
     * removes them from the address bar. A second call for the same code
     * (React StrictMode, hot reload) shares the first one's answer.
     * @param {{ provider?: string }} [o]
     * @returns {Promise<Result<CallbackData>>}
     */
    handleCallback(o?: {
        provider?: string;
    }): Promise<Result<CallbackData>>;
    getAccessToken: () => Promise<Result<string | null>>;
    /**
     * refresh trades the refresh cookie for a new access token now,
     * whatever the token's age (a refresh in flight is shared).
     * @returns {Promise<Result<string | null>>}
     */
    refresh: () => Promise<Result<string | null>>;
    /**
     * fetch is the app's fetch with the access token as a bearer token; on
     * a 401 it refreshes once and retries. Like fetch, it answers the
     * Response and rejects only when no answer came.
     * @param {RequestInfo | URL} input
     * @param {RequestInit} [init]
     * @returns {Promise<Response>}
     */
    fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
    /** The signed-in user, or null. */
    user: () => User | null;
    /**
     * onAuthStateChange calls cb on SIGNED_IN, TOKEN_REFRESHED and
     * SIGNED_OUT (with null), in this tab and when another tab signs in or
     * out. It returns the function that unsubscribes.
     * @param {AuthListener} cb
     */
    onAuthStateChange(cb: AuthListener): () => undefined;
    /**
     * signOut ends this session, or with everywhere every session of the
     * user, here and in every tab.
     * @param {{ everywhere?: boolean }} [o]
     * @returns {Promise<Result<null>>}
     */
    signOut(o?: {
        everywhere?: boolean;
    }): Promise<Result<null>>;
    /**
     * The user's active sessions.
     * @returns {Promise<Result<SessionInfo[]>>}
     */
    sessions(): Promise<Result<SessionInfo[]>>;
    /**
     * endSession ends one of the user's sessions; ending this browser's
     * signs out here too.
     * @param {string} id
     * @returns {Promise<Result<null>>}
     */
    endSession(id: string): Promise<Result<null>>;
    /**
     * The user's linked accounts.
     * @returns {Promise<Result<Identity[]>>}
     */
    identities(): Promise<Result<Identity[]>>;
    /**
     * unlink removes a linked account; subject is needed only when two
     * accounts of the provider are linked.
     * @param {string} provider
     * @param {string} [subject]
     * @returns {Promise<Result<null>>}
     */
    unlink(provider: string, subject?: string): Promise<Result<null>>;
    /** dispose stops timers and listeners and closes the channel. */
    dispose(): void;
};
/**
 * The API's error codes (README, "Errors"), and network_error when no
 * answer came at all (offline, DNS, CORS refused): then status is 0.
 */
export type ErrorCode = "invalid_request" | "invalid_state" | "invalid_grant" | "access_denied" | "unauthorized" | "invalid_token" | "unsupported_provider" | "not_found" | "method_not_allowed" | "identity_in_use" | "account_exists" | "last_identity" | "request_too_large" | "unsupported_media_type" | "rate_limited" | "request_header_too_large" | "server_error" | "temporarily_unavailable" | "network_error";
export type GatehouseError = {
    /**
     * branch on this
     */
    code: ErrorCode;
    /**
     * for humans
     */
    description: string;
    /**
     * the HTTP status, 0 for network_error
     */
    status: number;
    /**
     * with account_exists: the providers the existing user signs in with
     */
    providers?: string[] | undefined;
};
export type Result<T> = {
    data: T;
    error: null;
} | {
    data: null;
    error: GatehouseError;
};
export type User = {
    id: string;
    login: string | null;
    name: string | null;
    email: string | null;
    email_verified: boolean;
    picture: string | null;
    company: string | null;
    location: string | null;
    created_at: string;
    updated_at: string;
};
export type Provider = {
    name: string;
    display_name: string;
};
export type SessionInfo = {
    id: string;
    created_at: string;
    last_used_at: string;
    expires_at: string;
    user_agent: string;
    ip: string;
    current: boolean;
};
export type Identity = {
    provider: string;
    display_name: string;
    subject: string;
    login: string | null;
    email: string | null;
    email_verified: boolean;
    linked_at: string;
    last_used_at: string;
};
/**
 * expiresAt in the client clock's milliseconds
 */
export type Session = {
    user: User;
    expiresAt: number;
};
export type AuthEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "SIGNED_OUT";
export type AuthListener = (event: AuthEvent, session: Session | null) => void;
export type CallbackData = {
    user: User;
    returnTo: string | null;
    identity?: Identity;
};
export type ClientOptions = {
    /**
     * Gatehouse's public URL (default: location.origin)
     */
    url?: string | undefined;
    /**
     * the clock in milliseconds (default: Date.now)
     */
    now?: (() => number) | undefined;
    /**
     * the fetch to call Gatehouse and the app's API with
     */
    fetch?: typeof fetch | undefined;
    /**
     * the BroadcastChannel's name (default: "gatehouse"); give two
     * clients of different Gatehouses on one origin different names
     */
    channel?: string | undefined;
};
export type Client = ReturnType<typeof createClient>;
