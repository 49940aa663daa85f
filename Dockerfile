# Hallpass: build the TypeScript, then run the compiled bot on production dependencies only.
#   docker build -t hallpass .
#   docker run -d --name hallpass -p 3000:3000 -v hallpass-data:/app/data \
#     -v "$PWD/hallpass.yml:/app/config/hallpass.yml:ro" \
#     -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET hallpass
# test/deploy/image-steps.test.ts runs these same steps (each RUN, then CMD as uid 1000) in a
# clean copy, to a healthy /healthz and a clean stop on SIGTERM.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production HALLPASS_DB=/app/data/hallpass.db HALLPASS_CONFIG=/app/config/hallpass.yml PORT=3000 HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY bin ./bin
COPY scripts/ensure-built.js ./scripts/
COPY hallpass.example.yml ./
# The SQLite folder belongs to the unprivileged `node` user (uid 1000 in the node images).
RUN mkdir -p data config && chown 1000:1000 data
USER 1000:1000
VOLUME /app/data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The bot itself is PID 1 (no shell, no npm), so `docker stop`'s SIGTERM reaches it and it stops
# gracefully: requests in flight finish, the jobs stop, the database closes.
CMD ["node", "dist/main.js"]
