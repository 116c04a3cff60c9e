import * as bridge from '@pubsub/bridge';
import * as msgqueue from '@pubsub/msgqueue';
import * as publisher from '@pubsub/publisher';
import * as subscriber from '@pubsub/subscriber';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '@pubsub/testkit';

const services = { msgqueue, publisher, subscriber };
const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');

interface ComposeService {
  build: { context: string; target: string };
  healthcheck: { test: string[] };
  environment: Record<string, string>;
  ports: string[];
  volumes: string[];
  profiles?: string[];
}

describe('docker-compose.yml', () => {
  const parsed = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
  // The services themselves; the monitoring profile's Prometheus and Grafana are checked below.
  const compose = {
    ...parsed,
    services: Object.fromEntries(Object.entries(parsed.services).filter(([, service]) => !service.profiles)),
  };
  const dockerfile = read('Dockerfile');

  test('runs each service from its own Dockerfile target, with no Redis: the single box needs none', () => {
    expect(Object.keys(compose.services).sort()).toEqual(Object.keys(services).sort());
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.build.target).toBe(name);
      expect(dockerfile).toContain(`FROM base AS ${name}`);
    }
  });

  test('the hops dial the msgqueue by service name, on the port it listens on', () => {
    const { msgqueue: queue, publisher: pub, subscriber: sub } = compose.services;
    const queuePort = queue?.environment.MSGQUEUE_PORT;
    expect(pub?.environment.PUBLISHER_QUEUE_URL).toBe(`wss://msgqueue:${queuePort}/pushmsg`);
    expect(sub?.environment.SUBSCRIBER_QUEUE_URL).toBe(`wss://msgqueue:${queuePort}/popmsg`);
  });

  test('every service listens on all interfaces, publishes its port, and shares the certificates', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const prefix = name.toUpperCase();
      expect(service.environment[`${prefix}_HOST`]).toBe('0.0.0.0');
      const port = service.environment[`${prefix}_PORT`];
      // The host port is configurable; the msgqueue's hop port is published on loopback only.
      const host = name === 'msgqueue' ? '127.0.0.1:' : '';
      const grpc = service.environment[`${prefix}_GRPC_PORT`];
      expect(service.ports).toEqual([
        `${host}\${${prefix}_HOST_PORT:-${port}}:${port}`,
        // The gRPC services, where the service has one, on its own host port.
        ...(grpc === undefined ? [] : [`\${${prefix}_GRPC_HOST_PORT:-${grpc}}:${grpc}`]),
      ]);
      expect(service.volumes).toContain('certs:/certs');
      expect(service.environment.WS_CERT_DIR).toBe('/certs');
      // The generated certificate must name the host each hop dials.
      expect(service.environment.TLS_DEV_CERT_HOSTS?.split(',')).toContain('msgqueue');
    }
    expect(compose.volumes).toHaveProperty('certs');
  });

  test('every service is health-checked on its own /ready, and the msgqueue keeps its log in a volume', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const port = service.environment[`${name.toUpperCase()}_PORT`];
      expect(service.healthcheck.test.join(' ')).toContain(`port:${port},path:'/ready'`);
    }
    const queue = compose.services.msgqueue;
    expect(queue?.volumes).toContain(`msgqueue-data:${queue?.environment.MSGQUEUE_DATA_DIR}`);
    expect(compose.volumes).toHaveProperty('msgqueue-data');
  });

  test('Prometheus and Grafana run only with the monitoring profile, from the files in deploy/', () => {
    const { prometheus, grafana } = parsed.services;
    expect(prometheus?.profiles).toEqual(['monitoring']);
    expect(grafana?.profiles).toEqual(['monitoring']);
    expect(prometheus?.volumes).toContain('./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(prometheus?.volumes).toContain('certs:/certs:ro');
    const scrape = parse(read('deploy/prometheus.yml')) as {
      scrape_configs: { scheme: string; tls_config: { ca_file: string }; static_configs: { targets: string[] }[] }[];
    };
    const [job] = scrape.scrape_configs;
    expect(job?.scheme).toBe('https');
    expect(job?.tls_config.ca_file).toBe('/certs/server.crt');
    // Every service, by compose name, on the port it listens on.
    const targets = Object.entries(compose.services).map(
      ([name, service]) => `${name}:${service.environment[`${name.toUpperCase()}_PORT`]}`,
    );
    expect(job?.static_configs.flatMap((config) => config.targets).sort()).toEqual(targets.sort());
    expect(grafana?.volumes).toContain('./deploy/grafana:/var/lib/grafana/dashboards:ro');
  });

  test("each service's configuration, as the image and compose set it, is valid", () => {
    // The image's ENV first (NODE_ENV among them), then compose's: what the container starts with.
    const imageEnv: Record<string, string> = {};
    for (const match of dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$/gm)) {
      imageEnv[match[1] as string] = match[2] as string;
    }
    expect(imageEnv.NODE_ENV).toBe('production');
    for (const [name, service] of Object.entries(compose.services)) {
      const env = { ...imageEnv, ...service.environment };
      expect(() => services[name as keyof typeof services].loadConfig(env), name).not.toThrow();
    }
  });

  test('the bridge runs only with the bridge profile, from its own target, dialing the msgqueue by name', () => {
    const service = parsed.services.bridge;
    expect(service?.profiles).toEqual(['bridge']);
    expect(service?.build.target).toBe('bridge');
    expect(dockerfile).toContain('FROM base AS bridge');
    expect(service?.environment.BRIDGE_QUEUE_URL).toBe(
      `wss://msgqueue:${compose.services.msgqueue?.environment.MSGQUEUE_PORT}/pushmsg`,
    );
    expect(service?.healthcheck.test.join(' ')).toContain(`port:${service?.environment.BRIDGE_PORT},path:'/ready'`);
    expect(service?.volumes).toContain('certs:/certs');
    // Compose fills ${VAR:-default} from the host's environment; with a source set, the config is valid.
    const env = Object.fromEntries(
      Object.entries(service?.environment ?? {}).map(([key, value]) => [key, value.replace(/^\$\{\w+:-(.*)\}$/, '$1')]),
    );
    for (const key of Object.keys(env)) expect(bridge.ENV_VARIABLES, key).toContain(key);
    expect(() => bridge.loadConfig({ ...env, BRIDGE_AMQP_URL: 'amqp://guest:guest@rabbitmq:5672' })).not.toThrow();
    expect(() => bridge.loadConfig(env)).toThrow(/nothing to bridge/);
  });

  test('sets only variables the services read', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const known = services[name as keyof typeof services].ENV_VARIABLES;
      for (const variable of Object.keys(service.environment))
        expect(known, `${name}: ${variable}`).toContain(variable);
    }
  });
});

describe('docker-compose.cluster.yml', () => {
  const compose = parse(read('docker-compose.cluster.yml'), { merge: true }) as {
    services: Record<string, ComposeService & { image?: string; command?: string[] }>;
    volumes: Record<string, unknown>;
  };
  const nodes = (kind: string) =>
    Object.entries(compose.services).filter(([name]) => name.startsWith(`${kind}-`)) as [string, ComposeService][];
  const imageEnv: Record<string, string> = {};
  for (const match of read('Dockerfile').matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$/gm)) {
    imageEnv[match[1] as string] = match[2] as string;
  }

  test('runs one Redis, 2 msgqueue, 2 publisher and 3 subscriber nodes, each from its Dockerfile target', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'redis',
        'msgqueue-1',
        'msgqueue-2',
        'publisher-1',
        'publisher-2',
        'subscriber-1',
        'subscriber-2',
        'subscriber-3',
      ].sort(),
    );
    for (const kind of Object.keys(services)) {
      for (const [, service] of nodes(kind)) expect(service.build.target).toBe(kind);
    }
  });

  test('Redis runs with the settings of the no-loss promise and keeps its data in a volume', () => {
    const { redis } = compose.services;
    expect(redis?.command?.join(' ')).toContain('--appendonly yes --appendfsync always');
    expect(redis?.volumes).toContain('redis-data:/data');
    expect(compose.volumes).toHaveProperty('redis-data');
  });

  test('every msgqueue node shares one log in that Redis, with node groups on', () => {
    const queues = nodes('msgqueue').map(([, service]) => service.environment);
    expect(queues).toHaveLength(2);
    for (const env of queues) {
      expect(env).toMatchObject({
        MSGQUEUE_STORE: 'redis',
        MSGQUEUE_REDIS_URL: 'redis://redis:6379',
        MSGQUEUE_NODE_GROUPS: 'true',
      });
      expect(env.MSGQUEUE_REDIS_PREFIX).toBe(queues[0]?.MSGQUEUE_REDIS_PREFIX);
    }
  });

  test('every publisher and subscriber lists every msgqueue node, by service name and port, first ones spread', () => {
    const queues = nodes('msgqueue').map(([name, service]) => `${name}:${service.environment.MSGQUEUE_PORT}`);
    const firsts = new Set<string>();
    for (const [kind, path] of [
      ['publisher', 'pushmsg'],
      ['subscriber', 'popmsg'],
    ] as const) {
      for (const [, service] of nodes(kind)) {
        const urls = service.environment[`${kind.toUpperCase()}_QUEUE_URL`]?.split(',') ?? [];
        expect(urls.map((url) => url.replace(/^wss:\/\/([^/]+)\/.*$/, '$1')).sort()).toEqual([...queues].sort());
        for (const url of urls) expect(url).toMatch(new RegExp(`/${path}$`));
        firsts.add(urls[0] ?? '');
      }
    }
    expect(firsts.size).toBeGreaterThan(2);
  });

  test('each subscriber node has an id of its own, so each gets every message', () => {
    const ids = nodes('subscriber').map(([, service]) => service.environment.SUBSCRIBER_NODE_ID);
    expect(new Set(ids).size).toBe(3);
    expect(ids.every((id) => id !== undefined && id !== 'auto')).toBe(true);
  });

  test('the certificate names every node, every node shares it, and each is health-checked on /ready', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === 'redis') continue;
      expect(service.environment.TLS_DEV_CERT_HOSTS?.split(','), name).toEqual(
        expect.arrayContaining(Object.keys(compose.services).filter((other) => other !== 'redis')),
      );
      expect(service.volumes).toContain('certs:/certs');
      const kind = name.replace(/-\d+$/, '').toUpperCase();
      expect(service.healthcheck.test.join(' ')).toContain(`port:${service.environment[`${kind}_PORT`]},path:'/ready'`);
    }
  });

  test("each node's configuration, as the image and compose set it, is valid and uses only variables it reads", () => {
    for (const kind of Object.keys(services) as (keyof typeof services)[]) {
      for (const [name, service] of nodes(kind)) {
        expect(() => services[kind].loadConfig({ ...imageEnv, ...service.environment }), name).not.toThrow();
        for (const variable of Object.keys(service.environment))
          expect(services[kind].ENV_VARIABLES, `${name}: ${variable}`).toContain(variable);
      }
    }
  });
});

describe('docs/configuration.md', () => {
  const doc = read('docs/configuration.md');

  test.each(Object.entries({ ...services, bridge }))('documents every variable %s reads', (_name, service) => {
    for (const variable of service.ENV_VARIABLES) expect(doc, variable).toContain(`\`${variable}\``);
  });
});
