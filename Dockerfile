# retire-cluster master. Multi-stage: build with the toolchain better-sqlite3
# needs, run without it, as a non-root user, with state on a volume.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
# The build also bundles the one-file worker (served at /worker.js) from bin/ and the schemas in protocol/.
COPY bin ./bin
COPY protocol ./protocol
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    RC_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY protocol ./protocol
COPY config ./config
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# 8080: workers (NDJSON over TCP); 5000: people (HTTP).
EXPOSE 8080 5000
# Probe HTTP /health, not the raw TCP port: a wedged master can still accept TCP.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.RC_HTTP_PORT||5000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/rc-master.js"]
