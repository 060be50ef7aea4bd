# syntax=docker/dockerfile:1
# Tributary container: `docker build -t tributary .` then `docker run -e KAFKA_BROKERS=kafka:9092 -p 9464:9464 tributary`.
# Configuration is environment only (docs/operations.md). GET :9464/metrics, /healthz, /readyz.

# --- build: compile TypeScript (src, operators, metrics, pipelines) to dist/ ---
# The same Node as CI tests on (scripts/node/provision.sh).
FROM node:24.22.3-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds, and the sources are not copied yet
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
# .dockerignore lets in only the sources and configuration the build needs.
COPY . .
RUN npm run build

# --- runtime: production dependencies and compiled output only ---
FROM node:24.22.3-slim AS runtime
# Heap (docs/operations.md, Memory): old generation capped at 512 MB, young at 16 MB semi-spaces, and after each full
# collection the old generation may grow to 2.5 times what survived (--heap-growing-percent, on the entrypoint's command
# line: Node refuses it in NODE_OPTIONS). About 220-270 MB per busy engine process instead of 400-480 MB, at the same
# throughput on the workload benchmark. Replace NODE_OPTIONS to raise the cap (records of hundreds of kilobytes, a
# large maxInFlight); workers inherit both.
ENV NODE_ENV=production \
    HTTP_PORT=9464 \
    NODE_OPTIONS="--max-old-space-size=512 --max-semi-space-size=16"
WORKDIR /app
COPY package.json package-lock.json ./
# The shipped pipelines also need what the library leaves to its users (peer and development dependencies of the
# package): zod and rxjs, pg and ioredis for their stores, kafkajs-snappy for snappy batches. They become the image's
# dependencies, at the lockfile's versions.
RUN --mount=type=cache,target=/root/.npm node -e " \
      const fs = require('node:fs'); const p = JSON.parse(fs.readFileSync('package.json', 'utf8')); \
      for (const n of ['zod', 'rxjs', 'pg', 'ioredis', 'kafkajs-snappy']) { \
        p.dependencies[n] = p.devDependencies[n]; delete p.devDependencies[n]; } \
      fs.writeFileSync('package.json', JSON.stringify(p, null, 2));" \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist

# The node image's unprivileged user; nothing under /app needs to be writable.
USER node
EXPOSE 9464

# No curl in slim images: Node's own fetch asks /healthz (alive), on HTTP_PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM itself (graceful drain, commit, exit 0).
# `run` without a path loads dist/pipelines/ (pipelines/ compiled); other commands: describe, topics create, lag,
# dlq replay (e.g. `docker run --rm -e KAFKA_BROKERS=... tributary lag`).
ENTRYPOINT ["node", "--heap-growing-percent=150", "dist/src/cli/main.js"]
CMD ["run"]
