// An Express app whose GET /notes needs a Gatehouse access token.

import cors from 'cors';
import express from 'express';

import { InvalidToken } from './gatehouse-auth.js';

// RFC 6750 section 2.1: the scheme is case-insensitive, the token a b64token.
const bearer = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

// requireToken is the middleware of protected routes: it puts the token's
// claims in req.claims, or answers an RFC 6750 error.
export function requireToken(verifier) {
  const realm = verifier.audience;
  const fail = (res, status, error, description) => {
    const challenge = `Bearer realm="${realm}"` + (error ? `, error="${error}"` : '');
    res.status(status).set('WWW-Authenticate', challenge)
      .json({ error: error ?? 'unauthorized', error_description: description });
  };
  return async (req, res, next) => {
    // Node keeps only the first of repeated Authorization headers in
    // req.headers; count them in the raw ones.
    const values = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() === 'authorization') values.push(req.rawHeaders[i + 1]);
    }
    if (values.length === 0) return fail(res, 401, null, 'an access token is required');
    if (values.length > 1) return fail(res, 400, 'invalid_request', 'more than one Authorization header');
    const m = bearer.exec(values[0]);
    if (!m) return fail(res, 401, 'invalid_token', 'not a bearer token');
    try {
      req.claims = await verifier.verify(m[1]);
    } catch (e) {
      if (e instanceof InvalidToken) return fail(res, 401, 'invalid_token', e.message);
      return next(e);
    }
    next();
  };
}

// createApp returns the app, checking tokens with verifier. Browsers on
// corsOrigins may call it with an Authorization header.
export function createApp(verifier, { corsOrigins = [] } = {}) {
  const app = express();
  app.disable('x-powered-by');
  if (corsOrigins.length > 0) {
    // Bearer tokens, not cookies: no credentials. Authorization is not a
    // CORS-safelisted header, so the preflight must allow it.
    app.use(cors({ origin: corsOrigins, methods: ['GET'], allowedHeaders: ['Authorization'], maxAge: 600 }));
  }
  app.get('/health', (req, res) => res.json({ status: 'ok' }));
  app.get('/notes', requireToken(verifier), (req, res) => {
    // One user's data: no cache may keep it (nor answer 304 to another
    // token's request from an ETag).
    res.set('Cache-Control', 'no-store');
    res.json({ subject: req.claims.sub, notes: [`a note of ${req.claims.sub}`] });
  });
  return app;
}
