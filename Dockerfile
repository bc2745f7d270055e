# syntax=docker/dockerfile:1
# blip-helpdesk-bridge in a container. Three stages:
#   deps   production dependencies only (better-sqlite3 is compiled here, with the toolchain it needs);
#   build  every dependency and the TypeScript compiler: dist/;
#   final  Node, the production node_modules and dist/, run as the unprivileged user "node".
# test/e2e/production.e2e.test.ts replays these steps (no Docker engine on the development machines).
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM toolchain AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM toolchain AS build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim
# The port: HTTP_PORT, else PORT (set by container platforms), else 3000.
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    LOG_FORMAT=json \
    REPORTS_SQLITE_PATH=/data/reports.sqlite
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json .env.example ./
COPY bin ./bin
COPY src/adapters/servicenow/business-rule.js src/adapters/servicenow/attachment-rule.js ./src/adapters/servicenow/
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HTTP_PORT || process.env.PORT || 3000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly (not npm) so SIGTERM reaches the bridge, which drains and exits.
CMD ["node", "dist/main.js"]
