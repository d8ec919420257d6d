// `accord demo-app`: a small relying party on http://localhost:8080 that signs in with Accord,
// shows the tokens' claims, calls the data API, refreshes and signs out (cli/demo-app/). By
// default it is the app `accord seed --demo` (or the first `npm start`) registered, with the
// credentials that seed kept in DATA_DIR.
import { DEMO_APP_PORT, demoAppCredentialsFile, readDemoAppCredentials } from '../services/demo-seed.js';
import { defineCommand, stringOption, UsageError } from './command.js';
import { DEMO_SCOPE, startRelyingParty } from './demo-app/relying-party.js';

export const demoAppCommands = [
  defineCommand({
    name: 'demo-app',
    usage: '[--issuer <url>] [--port <port>] [--client-id <id>] [--client-secret <secret>]',
    summary: 'Run a demo app on http://localhost:8080 that signs in with Accord (Ctrl-C stops it).',
    help: `A relying party built on openid-client: sign in (authorization code with PKCE), the ID token's
and the access token's claims, calls to /data/v1/me and /data/v1/me/calendar/events, a refresh,
and sign-out at Accord (RP-initiated logout). It asks for: ${DEMO_SCOPE}.
--issuer: Accord's issuer (default: ISSUER, as the server reads it: http://localhost:3000).
--port: where the demo app listens on the loopback interface (default ${DEMO_APP_PORT}, where the
  seeded app's redirect URIs point: http://localhost:${DEMO_APP_PORT}/callback and http://127.0.0.1:${DEMO_APP_PORT}/callback).
--client-id, --client-secret: the app to sign in as (default: the seeded demo app, whose
  credentials the seed kept in DATA_DIR/demo-app.json). Another app must register
  http://localhost:<port>/callback and, to sign out, http://localhost:<port>/ as a post-logout URI.
JSON (printed once it listens): {"url", "issuer", "client_id"}.`,
    options: {
      issuer: { type: 'string' },
      port: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
    },
    prepare: (parsed) => {
      const portText = stringOption(parsed, 'port') ?? String(DEMO_APP_PORT);
      const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
      if (!(port >= 1 && port <= 65535)) throw new UsageError('--port must be a port number from 1 to 65535');
      const issuer = stringOption(parsed, 'issuer');
      if (issuer !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(issuer))
        throw new UsageError('--issuer must be an http(s) origin, such as http://localhost:3000');
      const clientId = stringOption(parsed, 'client-id');
      const clientSecret = stringOption(parsed, 'client-secret');
      if ((clientId === undefined) !== (clientSecret === undefined))
        throw new UsageError('--client-id and --client-secret go together');
      return { port, issuer: issuer?.replace(/\/$/, ''), clientId, clientSecret };
    },
    serve: async (config, input, announce) => {
      let credentials = input.clientId ? { client_id: input.clientId, client_secret: input.clientSecret! } : undefined;
      credentials ??= await readDemoAppCredentials(config.dataDir);
      if (!credentials)
        throw new UsageError(
          `no demo app credentials in ${demoAppCredentialsFile(config.dataDir)} (\`accord seed --demo\` keeps them there): ` +
            'pass --client-id and --client-secret',
        );
      const issuer = input.issuer ?? config.issuer;
      const relyingParty = await startRelyingParty({
        issuer,
        port: input.port,
        clientId: credentials.client_id,
        clientSecret: credentials.client_secret,
      });
      const url = `http://localhost:${input.port}`;
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await announce({
        json: { url, issuer, client_id: credentials.client_id },
        text: `Accord demo app on ${url} (issuer ${issuer}, client ${credentials.client_id}); Ctrl-C stops it\n`,
      });
      await stopped;
      await relyingParty.close();
    },
  }),
];
