// Checking Gatehouse access tokens with jose.
//
// createVerifier reads the issuer's discovery document and JSON Web Key Set
// once at start; verify then checks each token the way Gatehouse itself
// does. jose takes the algorithm from the JWK the token's kid names: a
// header alg other than the key's finds no key.

import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';

// The algorithms Gatehouse signs with (GATEHOUSE_JWT_ALG).
export const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];
export const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'sid'];
const MAX_TOKEN_LENGTH = 4096;

// InvalidToken is thrown for a malformed, forged, expired or foreign token.
// Its message is safe to send back; it never contains the token.
export class InvalidToken extends Error {}

// createVerifier returns a verifier of tokens that issuer (Gatehouse's
// GATEHOUSE_PUBLIC_URL) minted for audience (its GATEHOUSE_AUDIENCE, by
// default its app URL, itself by default the public URL).
//
// Options: now (a function returning a Date; tests inject a clock),
// cooldownDuration (ms between refetches of the key set for an unknown kid,
// default 30 s), fetch (for tests: counts the requests).
export async function createVerifier(issuer, audience, options = {}) {
  const { now = () => new Date(), cooldownDuration = 30_000, fetch: fetchImpl = fetch } = options;
  const res = await fetchImpl(`${issuer}/.well-known/openid-configuration`, { redirect: 'manual' });
  if (res.status !== 200) {
    throw new Error(`discovery: HTTP ${res.status}`);
  }
  const discovery = await res.json();
  if (discovery.issuer !== issuer) {
    throw new Error(`discovery names issuer ${JSON.stringify(discovery.issuer)}, not ${JSON.stringify(issuer)}`);
  }
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), {
    // A token naming an unknown kid makes jose fetch the set again (that is
    // how a key rotation reaches us), but at most once per cool-down, so
    // made-up kids cannot make us hammer Gatehouse.
    cooldownDuration,
    // Known keys are fetched again after 5 minutes, so a retired key stops
    // working here too.
    cacheMaxAge: 5 * 60_000,
    [customFetch]: (url, init) => fetchImpl(url, { ...init, redirect: 'manual' }),
  });
  // Fail at start, not on the first request, if the keys are unavailable.
  await jwks.reload();

  async function verify(token) {
    if (!token || token.length > MAX_TOKEN_LENGTH) {
      throw new InvalidToken('token length out of range');
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ALGORITHMS,
        requiredClaims: REQUIRED_CLAIMS,
        clockTolerance: 30,
        // Gatehouse's longest TTL; setting it also makes jose refuse an iat
        // in the future.
        maxTokenAge: '1h',
        currentDate: now(),
      }));
    } catch (e) {
      // jose's errors (JWTExpired, JWSSignatureVerificationFailed,
      // JWKSNoMatchingKey, ...) never contain the token.
      throw new InvalidToken(e.code ? `${e.code}: ${e.message}` : 'malformed token');
    }
    for (const name of ['sub', 'sid', 'jti']) {
      if (typeof payload[name] !== 'string' || payload[name] === '') {
        throw new InvalidToken(`${name} is not a non-empty string`);
      }
    }
    return payload;
  }

  return { issuer, audience, verify };
}
