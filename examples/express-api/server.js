// The app, configured from the environment: GATEHOUSE_ISSUER,
// GATEHOUSE_AUDIENCE, CORS_ORIGINS and PORT (see README.md).

import { createApp } from './app.js';
import { createVerifier } from './gatehouse-auth.js';

const issuer = process.env.GATEHOUSE_ISSUER ?? 'http://localhost:8080';
const audience = process.env.GATEHOUSE_AUDIENCE ?? issuer;
const corsOrigins = (process.env.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
const port = Number(process.env.PORT ?? 3000);

const verifier = await createVerifier(issuer, audience);
createApp(verifier, { corsOrigins }).listen(port, 'localhost', () => {
  console.log(`listening on http://localhost:${port}, tokens of ${issuer} for ${audience}`);
});
