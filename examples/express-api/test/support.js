// Real `gatehouse serve` processes and a fake issuer for the tests.

import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';

import { exportJWK, generateKeyPair } from 'jose';

const repo = resolve(import.meta.dirname, '../../..');

// buildGatehouse builds the binary once per run, unless GATEHOUSE_BIN names one.
export function buildGatehouse() {
  if (process.env.GATEHOUSE_BIN) return process.env.GATEHOUSE_BIN;
  const out = join(mkdtempSync(join(tmpdir(), 'gatehouse-bin-')), 'gatehouse');
  execFileSync('go', ['build', '-o', out, './cmd/gatehouse'], { cwd: repo, stdio: 'inherit' });
  return out;
}

async function freePort() {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

function ok(res, body) {
  if (res.status !== 200) throw new Error(`${res.url}: HTTP ${res.status}: ${body}`);
}

// startGatehouse starts `gatehouse serve` with data in dataDir and the extra
// environment env, and waits until it answers.
export async function startGatehouse(bin, dataDir, env = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const environ = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  const logPath = join(dataDir, `gatehouse-${port}.log`);
  const log = createWriteStream(logPath);
  await once(log, 'open');
  const proc = spawn(bin, ['serve'], {
    env: { ...environ, GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_ADDR: `127.0.0.1:${port}`, GATEHOUSE_PUBLIC_URL: url, ...env },
    stdio: ['ignore', log, log],
  });
  let exited = false;
  proc.on('exit', () => { exited = true; });
  const stop = async () => {
    if (!exited) {
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    }
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/.well-known/openid-configuration`)).status === 200) break;
    } catch {}
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`gatehouse did not start:\n${readFileSync(logPath, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  // login signs in through the development login, as the README's curl
  // walkthrough does, carrying cookies by hand, and returns the access token.
  async function login(name = 'Ada Lovelace', email = 'ada@example.com') {
    const jar = new Map();
    const call = async (path, init = {}) => {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(new URL(path, url), {
        redirect: 'manual', ...init, headers: { ...init.headers, ...(cookie && { cookie }) },
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        jar.set(pair.slice(0, i), pair.slice(i + 1));
      }
      return res;
    };
    let res = await call('/auth/dev/login');
    let body = await res.text();
    ok(res, body);
    res = await call(JSON.parse(body).url);
    body = await res.text();
    ok(res, body);
    const request = /name="request" value="([^"]+)"/.exec(body)[1];
    res = await call('/dev-login/authorize', {
      method: 'POST',
      body: new URLSearchParams({ request, name, email, email_verified: '1', action: 'allow' }),
    });
    if (res.status !== 302) throw new Error(`dev authorize: HTTP ${res.status}`);
    const q = new URL(res.headers.get('location')).searchParams;
    res = await call('/auth/dev/authorize', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: q.get('code'), state: q.get('state') }),
    });
    body = await res.text();
    ok(res, body);
    return JSON.parse(body).access_token;
  }

  async function me(token) {
    const res = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    ok(res, body);
    return JSON.parse(body);
  }

  return { url, login, me, stop };
}

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'gatehouse-data-'));
}

// startFakeIssuer serves a discovery document and a key set with one ES256
// key the tests hold, for tokens Gatehouse never makes.
export async function startFakeIssuer() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = 'fake-key-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const server = createServer((req, res) => {
    const docs = {
      '/.well-known/openid-configuration': { issuer: fake.url, jwks_uri: `${fake.url}/jwks` },
      '/jwks': { keys: [jwk] },
    };
    if (!(req.url in docs)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(docs[req.url]));
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const fake = { url: `http://127.0.0.1:${server.address().port}`, kid, privateKey, close: () => server.close() };
  return fake;
}
