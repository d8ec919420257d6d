# Accord image: TypeScript compiled to dist/ in a build stage; the runtime stage holds production
# dependencies only and runs as the unprivileged `node` user. Node 22 is oidc-provider's supported runtime.

FROM node:22-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so the npm ci layer is reused while only sources change.
COPY package.json package-lock.json ./
# npm ci applies the patches to dependencies (patches/README.md).
COPY patches ./patches
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY views ./views
COPY migrations ./migrations
USER node
EXPOSE 3000
# No curl in the slim image; node's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The heap limits of `npm start` (README "Configuration"): under load the RSS stays below 200 MB.
CMD ["node", "--max-old-space-size=128", "--max-semi-space-size=4", "--single-threaded-gc", "dist/server.js"]
