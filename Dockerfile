# One image recipe for every service: docker build --build-arg SERVICE=producer .
# Builder: install the workspace and build the service with Nx.
FROM node:22-bookworm-slim AS builder
WORKDIR /workspace
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nx.json tsconfig.base.json .swcrc jest.preset.js ./
COPY tools/build.mjs tools/
COPY libs libs
COPY services services
ARG SERVICE
RUN test -n "$SERVICE" && NX_DAEMON=false npx nx run "$SERVICE":build \
 && printf "require('./services/%s/src/main.js');\n" "$SERVICE" > "dist/$SERVICE/main.js"

# Runtime: the built output and production dependencies only, run by an unprivileged user under
# tini so that SIGTERM from `docker stop` reaches Node and the service shuts down cleanly.
FROM node:22-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
ARG SERVICE
COPY --from=builder /workspace/dist/${SERVICE} ./
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "node", "main.js"]
