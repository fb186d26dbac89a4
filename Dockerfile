# weighbridge's own image: docker build -t weighbridge . (the base image comes from a registry;
# the example worker's image needs none: npm run image:worker).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json weighbridge.example.yaml ./
COPY src src
COPY actors actors
COPY bench bench
COPY test test
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json /app/weighbridge.example.yaml ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
ENTRYPOINT ["node", "dist/src/cli/main.js"]
