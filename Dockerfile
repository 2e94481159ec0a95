# One image for every Perennial process: the API by default; compose overrides the command for the
# worker and the migrate job.

# Debian, not Alpine: @temporalio/core-bridge and @swc/core ship native binaries built for glibc.
FROM node:20-bookworm-slim AS base
# package.json's "allowScripts" policy (which install scripts may run) is only understood by npm 11;
# the npm 10 bundled with Node 20 would run every script.
ARG NPM_VERSION=11.19.1
RUN npm install -g npm@${NPM_VERSION} && npm cache clean --force
WORKDIR /app
COPY package.json package-lock.json ./

FROM base AS build
# `npm install`, not `npm ci`: the lockfile is written on a registry mirror that serves only this
# platform's optional binaries, and `npm ci` refuses a lockfile without the others.
RUN npm install --no-audit --no-fund
COPY . .
RUN npm run build

FROM base AS runtime
ENV NODE_ENV=production
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
# dist/workflows and dist/domain must ship as files: the worker bundles the workflow code at startup.
COPY --from=build /app/dist ./dist
# The console's stylesheet is served as a file next to the compiled pages.
COPY --from=build /app/web/assets ./dist/web/assets
USER node
EXPOSE 3000
CMD ["node", "dist/api/server.js"]
