# Production image: build with the dev toolchain, run with production dependencies only, as a non-root user.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production PORT=4000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json schema.graphql ./
# Without DATABASE_URL the embedded database is file:./data/wxmp.db, i.e. /app/data: made here and owned by `node`,
# since /app itself is root's and the server cannot create it at start. Mount a volume there to keep it.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME /app/data
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Started as `npm start` starts it (package.json); a unit test keeps the two equal. Its node flags (heap and JIT): see bench/RESULTS.md.
CMD ["node", "--max-semi-space-size=16", "--heap-growing-percent=40", "--no-maglev", "dist/main.js"]
