// The app against real `gatehouse serve` processes (see support.js).
//
// Gatehouse A is the issuer the app trusts. Gatehouse B shares A's
// database, hence A's signing key, but has another public URL (another iss)
// and another audience: its tokens carry a key the app knows, so they reach
// the iss and aud checks instead of stopping at an unknown kid.

import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, KeyObject, randomUUID, sign } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { after, before, describe, mock, test } from 'node:test';

import { decodeJwt, decodeProtectedHeader } from 'jose';

import { createApp } from '../app.js';
import { createVerifier } from '../gatehouse-auth.js';
import { buildGatehouse, startFakeIssuer, startGatehouse, tempDir } from './support.js';

const SPA = 'http://localhost:5173';
const OTHER_AUDIENCE = 'http://other-app.test';

let a, b, fake, token;
const servers = [];

before(async () => {
  const bin = buildGatehouse();
  const data = tempDir();
  // A 1-minute TTL, Gatehouse's shortest, keeps the expiry test's numbers small.
  a = await startGatehouse(bin, data, { GATEHOUSE_ACCESS_TOKEN_TTL: '1m' });
  b = await startGatehouse(bin, data, { GATEHOUSE_AUDIENCE: OTHER_AUDIENCE });
  fake = await startFakeIssuer();
  token = await a.login();
});

after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  fake?.close();
  await b?.stop();
  await a?.stop();
});

// serve starts the app with a verifier of issuer and audience and returns its URL.
async function serve(issuer, audience, options) {
  const server = createApp(await createVerifier(issuer, audience, options), { corsOrigins: [SPA] }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

function getNotes(base, tok) {
  return fetch(`${base}/notes`, { headers: { authorization: `Bearer ${tok}` } });
}

async function assertInvalid(res, describe) {
  const body = await res.json();
  assert.equal(res.status, 401, `${describe ?? ''} ${JSON.stringify(body)}`);
  assert.match(res.headers.get('www-authenticate'), /, error="invalid_token"$/);
  assert.equal(body.error, 'invalid_token');
  return body;
}

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

// signES256 signs header and claims as they are, with no checks.
function signES256(header, claims, key) {
  const input = `${b64(header)}.${b64(claims)}`;
  const k = key instanceof KeyObject ? key : KeyObject.from(key);
  return `${input}.${sign('sha256', Buffer.from(input), { key: k, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const nowhereKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

test('public route', async () => {
  const base = await serve(a.url, a.url);
  const res = await fetch(`${base}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('valid token', async () => {
  const res = await getNotes(await serve(a.url, a.url), token);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).subject, (await a.me(token)).id);
});

test('no token', async () => {
  const res = await fetch(`${await serve(a.url, a.url)}/notes`);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${a.url}"`);
});

test('malformed Authorization headers', async () => {
  const base = await serve(a.url, a.url);
  for (const value of ['Bearer', 'Bearer not-a-jwt', 'Basic YTpi', 'Bearer a b']) {
    await assertInvalid(await fetch(`${base}/notes`, { headers: { authorization: value } }), value);
  }
});

test('two Authorization headers', async () => {
  const base = new URL(await serve(a.url, a.url));
  const req = request({ host: base.hostname, port: base.port, path: '/notes',
    headers: { authorization: [`Bearer ${token}`, `Bearer ${token}`] } }).end();
  const [res] = await once(req, 'response');
  res.resume();
  assert.equal(res.statusCode, 400);
  assert.match(res.headers['www-authenticate'], /error="invalid_request"/);
});

test('another issuer, another audience', async () => {
  const tokenB = await b.login();
  // Same key: these tokens get past the signature and fail on iss or aud only.
  assert.equal(decodeProtectedHeader(tokenB).kid, decodeProtectedHeader(token).kid);
  assert.equal((await getNotes(await serve(b.url, OTHER_AUDIENCE), tokenB)).status, 200);
  const base = await serve(b.url, a.url);
  // A's token at an app trusting B with A's audience: only iss is wrong.
  assert.match((await assertInvalid(await getNotes(base, token))).error_description, /"iss"/);
  // B's token at the same app: iss is right, aud is wrong.
  assert.match((await assertInvalid(await getNotes(base, tokenB))).error_description, /"aud"/);
});

test('a key published nowhere', async () => {
  const base = await serve(a.url, a.url);
  const claims = decodeJwt(token);
  const { kid } = decodeProtectedHeader(token);
  await assertInvalid(await getNotes(base, signES256({ alg: 'ES256', kid: 'made-up', typ: 'at+jwt' }, claims, nowhereKey)));
  // Gatehouse's kid, another key: the signature fails.
  await assertInvalid(await getNotes(base, signES256({ alg: 'ES256', kid, typ: 'at+jwt' }, claims, nowhereKey)));
});

test("an alg other than the key's", async () => {
  // The JWK says ES256; whatever the header says instead is refused.
  const base = await serve(a.url, a.url);
  const header = decodeProtectedHeader(token);
  const claims = decodeJwt(token);
  const signature = token.split('.')[2];
  for (const alg of ['none', 'None', 'RS256', 'ES384', 'EdDSA', 'HS256']) {
    for (const sig of ['', signature]) {
      await assertInvalid(await getNotes(base, `${b64({ ...header, alg })}.${b64(claims)}.${sig}`), alg);
    }
    await assertInvalid(await getNotes(base, `${b64({ alg, typ: 'at+jwt' })}.${b64(claims)}.`), alg);
  }
  // The classic confusion: the public key as an HMAC secret.
  const jwk = (await (await fetch(`${a.url}/.well-known/jwks.json`)).json()).keys[0];
  const input = `${b64({ alg: 'HS256', kid: header.kid, typ: 'at+jwt' })}.${b64(claims)}`;
  const mac = createHmac('sha256', JSON.stringify(jwk)).update(input).digest('base64url');
  await assertInvalid(await getNotes(base, `${input}.${mac}`));
});

describe('times, with 30 s of leeway and an injected clock', () => {
  // Gatehouse A's tokens live 1 minute; the app's clock, not the test, moves.
  const at = (seconds) => ({ now: () => new Date(seconds * 1000) });
  test('exp', async () => {
    const { iat, exp } = decodeJwt(token);
    assert.equal(exp - iat, 60);
    assert.equal((await getNotes(await serve(a.url, a.url, at(exp + 29)), token)).status, 200);
    const body = await assertInvalid(await getNotes(await serve(a.url, a.url, at(exp + 31)), token));
    assert.match(body.error_description, /ERR_JWT_EXPIRED/);
  });
  test('nbf and iat', async () => {
    const { iat } = decodeJwt(token);
    assert.equal((await getNotes(await serve(a.url, a.url, at(iat - 29)), token)).status, 200);
    await assertInvalid(await getNotes(await serve(a.url, a.url, at(iat - 31)), token));
  });
});

describe('tokens Gatehouse never makes, from a fake issuer', () => {
  let base;
  before(async () => { base = await serve(fake.url, 'api'); });
  const make = (claimsChange = {}, headerChange = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const strip = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    const claims = strip({ iss: fake.url, sub: 'u1', aud: 'api', iat: now, nbf: now, exp: now + 60, jti: 'j1', sid: 's1', ...claimsChange });
    return signES256(strip({ alg: 'ES256', kid: fake.kid, typ: 'at+jwt', ...headerChange }), claims, fake.privateKey);
  };
  test('well-formed ones pass', async () => {
    assert.equal((await getNotes(base, make())).status, 200);
    assert.equal((await getNotes(base, make({}, { typ: 'application/AT+JWT' }))).status, 200);
    assert.equal((await getNotes(base, make({ aud: ['x', 'api'] }))).status, 200);
  });
  const cases = {
    'no typ': [{}, { typ: undefined }],
    'typ JWT': [{}, { typ: 'JWT' }],
    'crit exp': [{}, { crit: ['exp'] }],
    'crit b64': [{}, { crit: ['b64'], b64: false }],
    'aud list without ours': [{ aud: ['x', 'y'] }],
    'empty sub': [{ sub: '' }],
    'numeric sub': [{ sub: 7 }],
    'iat a string': [{ iat: 'now' }],
    'exp a string': [{ exp: 'later' }],
    'iat in the future': [{ iat: Math.floor(Date.now() / 1000) + 120 }],
    'nbf in the future': [{ nbf: Math.floor(Date.now() / 1000) + 120 }],
  };
  for (const c of ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'sid']) cases[`no ${c}`] = [{ [c]: undefined }];
  for (const [name, [claimsChange, headerChange]] of Object.entries(cases)) {
    test(name, async () => { await assertInvalid(await getNotes(base, make(claimsChange, headerChange))); });
  }
});

test('an unknown kid storm makes bounded key set fetches', async (t) => {
  const fetches = [];
  const counting = (url, init) => {
    fetches.push(new URL(url).pathname);
    return fetch(url, init);
  };
  // jose times its cool-down with Date.now(); move it with mocked Date.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const base = await serve(a.url, a.url, { fetch: counting });
  const jwksFetches = () => fetches.filter((p) => p === '/.well-known/jwks.json').length;
  assert.equal(jwksFetches(), 1);
  const claims = decodeJwt(token);
  const random = () => signES256({ alg: 'ES256', kid: randomUUID(), typ: 'at+jwt' }, claims, nowhereKey);
  for (let i = 0; i < 50; i++) {
    await assertInvalid(await getNotes(base, random()));
    // The known key keeps working and costs no fetch.
    assert.equal((await getNotes(base, token)).status, 200);
  }
  // The fetch at start began the cool-down.
  assert.equal(jwksFetches(), 1, 'no refetch within the cool-down');
  t.mock.timers.tick(31_000);
  for (let i = 0; i < 10; i++) await assertInvalid(await getNotes(base, random()));
  assert.equal(jwksFetches(), 2, 'one refetch after the cool-down');
});

test('CORS', async () => {
  const base = await serve(a.url, a.url);
  const preflight = (origin) => fetch(`${base}/notes`, { method: 'OPTIONS', headers: {
    origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
  let res = await preflight(SPA);
  assert.ok(res.status === 204 || res.status === 200, `status ${res.status}`);
  assert.equal(res.headers.get('access-control-allow-origin'), SPA);
  assert.match(res.headers.get('access-control-allow-headers'), /authorization/i);
  assert.equal(res.headers.get('access-control-allow-credentials'), null);
  res = await fetch(`${base}/notes`, { headers: { origin: SPA, authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), SPA);
  res = await preflight('http://evil.test');
  assert.equal(res.headers.get('access-control-allow-origin'), null);
});
