# syntax=docker/dockerfile:1
# The example Express app (examples/express-app). Build from the repository root:
#   docker build -f deploy/docker/example-express.Dockerfile -t sessioncache/example-express:0.1.0 .
# Configure with PORT, REDIS_CLUSTER_NODES, SESSIONCACHE_SIDECAR_URL and SESSION_SECRET.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- build: the whole workspace for an exact lockfile install; compile the app and the SDK.
FROM ${NODE_IMAGE} AS build
WORKDIR /repo
COPY package.json package-lock.json turbo.json tsconfig.json ./
COPY packages ./packages
COPY examples ./examples
RUN npm ci --no-audit --no-fund
RUN npx turbo run build --filter={./examples/express-app}... --output-logs=errors-only
RUN npm prune --omit=dev --no-audit --no-fund

# --- runtime: production node_modules, the compiled app and SDK; non-root.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=build /repo/package.json ./
COPY --from=build /repo/node_modules ./node_modules
COPY --from=build /repo/packages/sdk/package.json ./packages/sdk/
COPY --from=build /repo/packages/sdk/dist ./packages/sdk/dist
COPY --from=build /repo/examples/express-app/package.json ./examples/express-app/
COPY --from=build /repo/examples/express-app/dist ./examples/express-app/dist
USER node
WORKDIR /app/examples/express-app
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]
