# One image per service, built from a clean clone: docker build --target msgqueue -t pubsub-msgqueue .
FROM node:20-slim AS base
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY packages ./packages
COPY services ./services
COPY clientdemo ./clientdemo
RUN npx --yes pnpm@10.34.9 install --frozen-lockfile --prod \
 && mkdir /certs /data && chown node:node /certs /data
ENV NODE_ENV=production \
    WS_CERT_DIR=/certs
USER node

FROM base AS msgqueue
WORKDIR /app/services/msgqueue
ENV MSGQUEUE_HOST=0.0.0.0 \
    MSGQUEUE_DATA_DIR=/data
EXPOSE 8080
CMD ["node", "--import", "tsx", "src/main.ts"]

FROM base AS publisher
WORKDIR /app/services/publisher
ENV PUBLISHER_HOST=0.0.0.0
EXPOSE 8081 8091
CMD ["node", "--import", "tsx", "src/main.ts"]

FROM base AS subscriber
WORKDIR /app/services/subscriber
ENV SUBSCRIBER_HOST=0.0.0.0 \
    SUBSCRIBER_DATA_DIR=/data
EXPOSE 8082 8092
CMD ["node", "--import", "tsx", "src/main.ts"]

FROM base AS bridge
WORKDIR /app/services/bridge
ENV BRIDGE_HOST=0.0.0.0
EXPOSE 8083
CMD ["node", "--import", "tsx", "src/main.ts"]
