# syntax=docker/dockerfile:1
# sessioncache metrics sidecar. Build from the repository root:
#   docker build -f deploy/docker/sidecar.Dockerfile -t sessioncache/sidecar:0.1.0 .
# Configure with SESSIONCACHE_REDIS_NODES=host:port,... (and SESSIONCACHE_SIDECAR_LISTEN).

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- build: the whole workspace, so the lockfile installs exactly; then only the sidecar and
# what it depends on is compiled, and dev dependencies are dropped.
FROM ${NODE_IMAGE} AS build
WORKDIR /repo
COPY package.json package-lock.json turbo.json tsconfig.json ./
COPY packages ./packages
COPY examples ./examples
RUN npm ci --no-audit --no-fund
RUN npx turbo run build --filter=@sessioncache/sidecar... --output-logs=errors-only
RUN npm prune --omit=dev --no-audit --no-fund

# --- runtime: production node_modules, the compiled sidecar and the SDK it imports; non-root.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SESSIONCACHE_SIDECAR_LISTEN=0.0.0.0:9464
WORKDIR /app
COPY --from=build /repo/package.json ./
COPY --from=build /repo/node_modules ./node_modules
COPY --from=build /repo/packages/sdk/package.json ./packages/sdk/
COPY --from=build /repo/packages/sdk/dist ./packages/sdk/dist
COPY --from=build /repo/packages/sidecar/package.json ./packages/sidecar/
COPY --from=build /repo/packages/sidecar/dist ./packages/sidecar/dist
COPY --from=build /repo/packages/sidecar/bin ./packages/sidecar/bin
# The image's "node" user (uid 1000), as the Kubernetes securityContext expects.
USER node
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "packages/sidecar/bin/sessioncache-sidecar.js"]
