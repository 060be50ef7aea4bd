/**
 * A real single-node Apache Kafka broker (KRaft) assembled from Maven Central and run with `java`.
 * Used by `npm run kafka:start`, the test harness (when neither KAFKA_BROKERS nor Docker is available),
 * the demo and the benchmarks. README.md, "The local broker", says how to use it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { patchKafkajsNegativeTimeout } from '../../src/kafka/kafkajsTimeouts.js';
import { brokerTlsFiles, createBrokerTlsMaterial, TlsMaterialError } from './tlsMaterial.js';

// Node 24 warns on kafkajs' negative request-queue timer: the engine's fix (src/kafka/kafkajsTimeouts.ts) for the probes
patchKafkajsNegativeTimeout();

const here = dirname(fileURLToPath(import.meta.url));
export const projectRoot = resolve(here, '..', '..');
export const KAFKA_VERSION = '4.1.1';

export class LocalBrokerError extends Error {
  override name = 'LocalBrokerError';
}

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/** A SCRAM user created at format time, served on an extra SASL_PLAINTEXT listener. */
export interface LocalBrokerScram {
  username: string;
  password: string;
  /** The one mechanism the SASL listener enables. Default SCRAM-SHA-256. */
  mechanism?: ScramMechanism;
}

/** A SCRAM user of the SASL_SSL listeners, created at format time with a credential for each of its mechanisms. */
export interface LocalBrokerScramUser {
  username: string;
  password: string;
  /** Default both SCRAM-SHA-256 and SCRAM-SHA-512. A user without a mechanism cannot log in with it. */
  mechanisms?: readonly ScramMechanism[];
}

/**
 * SASL_SSL listeners (TLS, then SCRAM-SHA-256 or SCRAM-SHA-512), served with a CA and broker certificates made with
 * openssl at each fresh start in `<stateDir>/tls/` (see tlsMaterial.ts).
 */
export interface LocalBrokerSaslSsl {
  /** The listener's port on 127.0.0.1. Its certificate names IP 127.0.0.1 and DNS localhost. */
  port: number;
  /**
   * A second SASL_SSL listener whose certificate (same CA) names only DNS localhost: a client that connects to
   * 127.0.0.1 fails hostname verification there. For tests of that failure. Default: none.
   */
  mismatchPort?: number;
  /** The SCRAM users; at least one. */
  users: readonly LocalBrokerScramUser[];
}

export interface LocalBrokerOptions {
  /** Client (PLAINTEXT) port on 127.0.0.1. Default 9092. It stays open with SCRAM too (readiness probe, tools). */
  port?: number;
  /** KRaft controller port. Default port + 1. */
  controllerPort?: number;
  /**
   * Adds a SASL_PLAINTEXT listener on `saslPort` that authenticates with SCRAM, and creates this user when the data
   * dir is formatted (`StorageTool format --add-scram`). Default: no SASL listener.
   */
  scram?: LocalBrokerScram;
  /** The SASL_PLAINTEXT (SCRAM) listener's port, used only with `scram`. Default port + 2. */
  saslPort?: number;
  /** Adds SASL_SSL listeners (TLS + SCRAM). Default: none. */
  saslSsl?: LocalBrokerSaslSsl;
  /** Where config, data, logs and the pid file live. Default .tributary/kafka-<port>. */
  stateDir?: string;
  /** Broker heap in MiB (-Xms = -Xmx). Default 512. */
  heapMb?: number;
  /**
   * `group.initial.rebalance.delay.ms`: how long a new group waits for more members before its first rebalance.
   * Default 0, so tests' groups form at once; Kafka's own default is 3000, which lets members that start together
   * (a container's workers) join in one generation.
   */
  initialRebalanceDelayMs?: number;
  /** The java executable. Default $JAVA_HOME/bin/java, else `java` on PATH. */
  javaBin?: string;
  /** How long to wait for the broker to answer a metadata request. Default 90 s. */
  readyTimeoutMs?: number;
  /** Progress lines (jar download, formatting, waiting). Default: none. */
  log?: (line: string) => void;
}

export interface LocalBroker {
  /** PLAINTEXT listener, host:port. */
  bootstrap: string;
  /** SASL_PLAINTEXT (SCRAM) listener, host:port; only when started with `scram`. */
  saslBootstrap?: string;
  /** The SASL_SSL listeners; only when started with `saslSsl`. */
  saslSsl?: LocalBrokerSaslSslInfo;
  clusterId: string;
  pid: number;
  stateDir: string;
  logFile: string;
  /** True when a broker this project started was already running there and was reused. */
  alreadyRunning: boolean;
  /** Wall time from the call to the first answered metadata request. */
  startupMs: number;
}

export interface LocalBrokerSaslSslInfo {
  /** host:port of the SASL_SSL listener whose certificate matches 127.0.0.1. */
  bootstrap: string;
  /** host:port of the listener whose certificate names only localhost (with `mismatchPort`). */
  mismatchBootstrap?: string;
  /** The CA that signed both certificates (PEM): `KAFKA_SSL_CA_FILE`. */
  caFile: string;
}

interface ResolvedSaslSsl {
  port: number;
  mismatchPort: number | undefined;
  users: { username: string; password: string; mechanisms: ScramMechanism[] }[];
}

interface Resolved {
  port: number;
  controllerPort: number;
  scram: Required<LocalBrokerScram> | undefined;
  saslPort: number;
  saslSsl: ResolvedSaslSsl | undefined;
  stateDir: string;
  heapMb: number;
  initialRebalanceDelayMs: number;
  javaBin: string;
  readyTimeoutMs: number;
  log: (line: string) => void;
}

function resolveOptions(options: LocalBrokerOptions): Resolved {
  const port = options.port ?? 9092;
  return {
    port,
    controllerPort: options.controllerPort ?? port + 1,
    scram: options.scram ? resolveScram(options.scram) : undefined,
    saslPort: options.saslPort ?? port + 2,
    saslSsl: options.saslSsl ? resolveSaslSsl(options.saslSsl) : undefined,
    stateDir: resolve(options.stateDir ?? join(projectRoot, '.tributary', `kafka-${port}`)),
    heapMb: options.heapMb ?? 512,
    initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? 0,
    javaBin: options.javaBin ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'),
    readyTimeoutMs: options.readyTimeoutMs ?? 90_000,
    log: options.log ?? (() => {}),
  };
}

/**
 * StorageTool parses `--add-scram 'SCRAM-SHA-256=[name=alice,password=secret]'` as a list of key=value pairs, so a
 * name or password holding `,` `=` `[` `]` `"` or spaces would be cut; they are refused here with a clear message.
 */
const SCRAM_SAFE = /^[A-Za-z0-9._~!@#$%^&*+:;?/|-]{1,128}$/;

const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

function checkScramMechanism(mechanism: string): ScramMechanism {
  if (!(SCRAM_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new LocalBrokerError(`SCRAM mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, got "${String(mechanism)}"`);
  }
  return mechanism as ScramMechanism;
}

function checkScramUser(username: string, password: string): void {
  for (const [what, value] of [
    ['user name', username],
    ['password', password],
  ] as const) {
    if (!SCRAM_SAFE.test(value)) {
      throw new LocalBrokerError(
        `SCRAM ${what} must be 1-128 characters without spaces, commas, '=', brackets or quotes (StorageTool's --add-scram syntax)`,
      );
    }
  }
}

function resolveScram(scram: LocalBrokerScram): Required<LocalBrokerScram> {
  const mechanism = checkScramMechanism(scram.mechanism ?? 'SCRAM-SHA-256');
  checkScramUser(scram.username, scram.password);
  return { username: scram.username, password: scram.password, mechanism };
}

function resolveSaslSsl(saslSsl: LocalBrokerSaslSsl): ResolvedSaslSsl {
  if (saslSsl.users.length === 0) throw new LocalBrokerError('SASL_SSL listeners need at least one SCRAM user');
  const users = saslSsl.users.map(({ username, password, mechanisms }) => {
    checkScramUser(username, password);
    const checked = (mechanisms ?? SCRAM_MECHANISMS).map(checkScramMechanism);
    if (checked.length === 0) throw new LocalBrokerError(`SCRAM user ${username} has no mechanism`);
    return { username, password, mechanisms: [...new Set(checked)] };
  });
  return { port: saslSsl.port, mismatchPort: saslSsl.mismatchPort, users };
}

interface ScramCredential {
  mechanism: ScramMechanism;
  username: string;
  password: string;
}

/** Every SCRAM credential to create at format time: one per user and mechanism, whichever listener it is for. */
function scramCredentials(o: Resolved): ScramCredential[] {
  const all: ScramCredential[] = [
    ...(o.scram ? [o.scram] : []),
    ...(o.saslSsl?.users ?? []).flatMap(({ username, password, mechanisms }) =>
      mechanisms.map((mechanism) => ({ mechanism, username, password })),
    ),
  ];
  const byKey = new Map<string, ScramCredential>();
  for (const credential of all) {
    const key = `${credential.mechanism}\0${credential.username}`;
    const seen = byKey.get(key);
    if (seen !== undefined && seen.password !== credential.password) {
      throw new LocalBrokerError(
        `SCRAM user ${credential.username} is given two passwords for ${credential.mechanism}`,
      );
    }
    byKey.set(key, credential);
  }
  return [...byKey.values()];
}

/** The ports this broker listens on, each once (two listeners on one port is a mistake in the options). */
function listenerPorts(o: Resolved): number[] {
  const ports = [o.port, o.controllerPort];
  if (o.scram) ports.push(o.saslPort);
  if (o.saslSsl) ports.push(o.saslSsl.port, ...(o.saslSsl.mismatchPort === undefined ? [] : [o.saslSsl.mismatchPort]));
  const twice = ports.find((port, i) => ports.indexOf(port) !== i);
  if (twice !== undefined) throw new LocalBrokerError(`port ${twice} is given to two listeners`);
  return ports;
}

/** The folder of cached jars; filled once by Maven, reused by every later start. */
export function kafkaLibsDir(): string {
  return join(projectRoot, '.cache', 'kafka', KAFKA_VERSION, 'libs');
}

/** Fetches Kafka's jars from Maven Central into the cache unless a finished copy is there. */
export function ensureKafkaJars(log: (line: string) => void = () => {}): string {
  const libs = kafkaLibsDir();
  const marker = join(libs, '.complete');
  if (existsSync(marker)) return libs;
  const mvn = spawnSync('mvn', ['--version'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0) {
    throw new LocalBrokerError(
      'Maven (`mvn`) is needed once to fetch Apache Kafka from Maven Central for the local broker, and was not found. ' +
        'Install Maven (with Java 17), or run against Docker or your own cluster by setting KAFKA_BROKERS=host:port.',
    );
  }
  log(`fetching Apache Kafka ${KAFKA_VERSION} from Maven Central into ${libs} …`);
  rmSync(libs, { recursive: true, force: true });
  mkdirSync(libs, { recursive: true });
  const result = spawnSync(
    'mvn',
    ['-q', '-B', 'package', '-f', join(projectRoot, 'scripts', 'kafka', 'pom.xml'), `-Dkafka.libs.dir=${libs}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (result.status !== 0) {
    throw new LocalBrokerError(
      `Maven could not assemble Apache Kafka ${KAFKA_VERSION} (exit ${result.status}).\n${result.stdout}\n${result.stderr}`,
    );
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return libs;
}

function checkJava(javaBin: string): void {
  const probe = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new LocalBrokerError(
      `No Kafka broker can be had: Java (\`${javaBin}\`) was not found or does not run ` +
        `(${probe.error?.message ?? `exit ${probe.status}`}). The local broker needs Java 17+ and Maven. ` +
        'Alternatives: set KAFKA_BROKERS=host:port to use your own cluster, or run a Docker engine for Testcontainers.',
    );
  }
}

function newClusterId(): string {
  // 16 random bytes, base64url without padding = 22 chars, the form StorageTool expects.
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The broker's TLS files, in the state dir (made at each fresh start). */
function tlsDir(o: Resolved): string {
  return join(o.stateDir, 'tls');
}

/** Listener name, port and PEM keystore of each SASL_SSL listener. */
function saslSslListeners(o: Resolved): { name: string; port: number; keystore: string }[] {
  if (!o.saslSsl) return [];
  const files = brokerTlsFiles(tlsDir(o));
  const { port, mismatchPort } = o.saslSsl;
  return [
    { name: 'SASL_SSL', port, keystore: files.keystoreFile },
    ...(mismatchPort === undefined
      ? []
      : [{ name: 'SASL_SSL_MISMATCH', port: mismatchPort, keystore: files.mismatchKeystoreFile }]),
  ];
}

const SCRAM_LOGIN = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';

function serverProperties(o: Resolved): string {
  const listeners = [`PLAINTEXT://127.0.0.1:${o.port}`, `CONTROLLER://127.0.0.1:${o.controllerPort}`];
  const advertised = [`PLAINTEXT://127.0.0.1:${o.port}`];
  const protocols = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  const sasl: string[] = [];
  // Only client listeners authenticate; brokers and the controller keep talking over PLAINTEXT. The users live in
  // the cluster metadata (created at format time), so no JAAS entry names credentials. The hash marks which users
  // this state dir was formatted with, so a restart with other credentials reformats.
  const credentials = scramCredentials(o);
  if (credentials.length > 0) {
    const hash = createHash('sha256');
    for (const { mechanism, username, password } of credentials)
      hash.update(`${mechanism}\0${username}\0${password}\0`);
    sasl.push(`# tributary scram users: ${hash.digest('hex').slice(0, 16)}`);
  }
  if (o.scram) {
    const { mechanism } = o.scram;
    listeners.push(`SASL_PLAINTEXT://127.0.0.1:${o.saslPort}`);
    advertised.push(`SASL_PLAINTEXT://127.0.0.1:${o.saslPort}`);
    protocols.push('SASL_PLAINTEXT:SASL_PLAINTEXT');
    sasl.push(
      `sasl.enabled.mechanisms=${mechanism}`,
      `listener.name.sasl_plaintext.${mechanism.toLowerCase()}.sasl.jaas.config=${SCRAM_LOGIN}`,
    );
  }
  for (const { name, port, keystore } of saslSslListeners(o)) {
    const prefix = `listener.name.${name.toLowerCase()}`;
    listeners.push(`${name}://127.0.0.1:${port}`);
    advertised.push(`${name}://127.0.0.1:${port}`);
    protocols.push(`${name}:SASL_SSL`);
    sasl.push(
      `${prefix}.sasl.enabled.mechanisms=${SCRAM_MECHANISMS.join(',')}`,
      ...SCRAM_MECHANISMS.map((mechanism) => `${prefix}.${mechanism.toLowerCase()}.sasl.jaas.config=${SCRAM_LOGIN}`),
      `${prefix}.ssl.keystore.type=PEM`,
      `${prefix}.ssl.keystore.location=${keystore}`,
    );
  }
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    `listeners=${listeners.join(',')}`,
    `advertised.listeners=${advertised.join(',')}`,
    `listener.security.protocol.map=${protocols.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    ...sasl,
    `log.dirs=${join(o.stateDir, 'data')}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    `group.initial.rebalance.delay.ms=${o.initialRebalanceDelayMs}`,
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    '',
  ].join('\n');
}

/** True when the running broker's server.properties is what these options would write (same listeners, same user). */
function sameConfiguration(o: Resolved): boolean {
  try {
    return readFileSync(join(o.stateDir, 'server.properties'), 'utf8') === serverProperties(o);
  } catch {
    return false;
  }
}

function pidFile(stateDir: string): string {
  return join(stateDir, 'broker.pid');
}

function readPid(stateDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile(stateDir), 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and is the Kafka broker started with this state dir (guards against pid reuse). */
function isOurBroker(pid: number, stateDir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('kafka.Kafka') && cmdline.some((arg) => arg.startsWith(stateDir));
  } catch {
    try {
      process.kill(pid, 0);
      return true; // no /proc (macOS): trust the pid file
    } catch {
      return false;
    }
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** Asks the broker for metadata; resolves to its cluster id, or undefined when it does not answer yet. */
export async function describeCluster(bootstrap: string): Promise<string | undefined> {
  const kafka = new Kafka({
    clientId: 'tributary-broker-probe',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { clusterId } = await admin.describeCluster();
    return clusterId;
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Waits until the group coordinator serves requests. A fresh broker creates __consumer_offsets on first use and
 * answers COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS meanwhile; doing it here keeps the first
 * consumer group of a test or demo from crashing and restarting.
 */
async function waitForGroupCoordinator(bootstrap: string, deadline: number): Promise<boolean> {
  const kafka = new Kafka({ clientId: 'tributary-broker-probe', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    while (Date.now() < deadline) {
      try {
        await admin.describeGroups(['tributary-broker-warmup']);
        return true;
      } catch {
        // not yet
      }
      await sleep(200);
    }
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function saslSslInfo(o: Resolved, saslSsl: ResolvedSaslSsl): LocalBrokerSaslSslInfo {
  return {
    bootstrap: `127.0.0.1:${saslSsl.port}`,
    ...(saslSsl.mismatchPort === undefined ? {} : { mismatchBootstrap: `127.0.0.1:${saslSsl.mismatchPort}` }),
    caFile: brokerTlsFiles(tlsDir(o)).caFile,
  };
}

async function allAnswer(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) if (!(await portAnswers(port))) return false;
  return true;
}

/** Starts the broker (or reuses one this project already runs at that state dir) and waits until it answers. */
export async function startLocalBroker(options: LocalBrokerOptions = {}): Promise<LocalBroker> {
  const started = Date.now();
  const o = resolveOptions(options);
  const bootstrap = `127.0.0.1:${o.port}`;
  const ports = listenerPorts(o);
  const saslBootstrap = {
    ...(o.scram ? { saslBootstrap: `127.0.0.1:${o.saslPort}` } : {}),
    ...(o.saslSsl ? { saslSsl: saslSslInfo(o, o.saslSsl) } : {}),
  };
  const logFile = join(o.stateDir, 'broker.log');

  const existing = readPid(o.stateDir);
  if (existing !== undefined && isOurBroker(existing, o.stateDir) && !sameConfiguration(o)) {
    o.log(`broker pid ${existing} runs with other listeners or SCRAM user; restarting it with these`);
    await stopPid(existing, 15_000);
  } else if (existing !== undefined && isOurBroker(existing, o.stateDir)) {
    const clusterId = await describeCluster(bootstrap);
    if (clusterId !== undefined) {
      return {
        bootstrap,
        ...saslBootstrap,
        clusterId,
        pid: existing,
        stateDir: o.stateDir,
        logFile,
        alreadyRunning: true,
        startupMs: Date.now() - started,
      };
    }
    o.log(`broker pid ${existing} is running but does not answer on ${bootstrap}; restarting it`);
    await stopPid(existing, 15_000);
  }

  checkJava(o.javaBin);
  for (const port of ports) {
    if (await portAnswers(port)) {
      throw new LocalBrokerError(
        `Port ${port} on 127.0.0.1 is already used by another process, so the local broker cannot start there. ` +
          'Stop that process, pick other ports (npm run kafka:start -- --port 19092), or set KAFKA_BROKERS to use a running cluster.',
      );
    }
  }
  const libs = ensureKafkaJars(o.log);
  const classpath = join(libs, '*');

  rmSync(o.stateDir, { recursive: true, force: true });
  mkdirSync(join(o.stateDir, 'data'), { recursive: true });
  const props = join(o.stateDir, 'server.properties');
  writeFileSync(props, serverProperties(o));
  if (o.saslSsl) {
    try {
      createBrokerTlsMaterial(tlsDir(o));
    } catch (error) {
      throw error instanceof TlsMaterialError ? new LocalBrokerError(error.message) : error;
    }
  }

  const clusterId = newClusterId();
  const toolsLog = `-Dlog4j2.configurationFile=${join(projectRoot, 'scripts', 'kafka', 'tools-log4j2.properties')}`;
  // With SCRAM, the users go into the bootstrap metadata: the broker knows them from its first start.
  const credentials = scramCredentials(o);
  const addScram = credentials.flatMap(({ mechanism, username, password }) => [
    '--add-scram',
    `${mechanism}=[name=${username},password=${password}]`,
  ]);
  const format = spawnSync(
    o.javaBin,
    [toolsLog, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, ...addScram],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) {
    let output = `${format.stderr}${format.stdout}`;
    for (const { password } of credentials) output = output.split(password).join('[REDACTED]');
    throw new LocalBrokerError(`Formatting the KRaft data dir failed (exit ${format.status}):\n${output}`);
  }

  const out = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      o.javaBin,
      [
        `-Xms${o.heapMb}m`,
        `-Xmx${o.heapMb}m`,
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${join(projectRoot, 'scripts', 'kafka', 'log4j2.properties')}`,
        `-Dkafka.logs.dir=${o.stateDir}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        props,
      ],
      { detached: true, stdio: ['ignore', out, out] },
    );
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new LocalBrokerError(`Could not spawn ${o.javaBin}`);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  child.unref();
  writeFileSync(pidFile(o.stateDir), `${pid}\n`);
  const extra = [
    ...(o.scram ? [`SCRAM on 127.0.0.1:${o.saslPort}`] : []),
    ...saslSslListeners(o).map(({ name, port }) => `${name} on 127.0.0.1:${port}`),
  ];
  const where = extra.length > 0 ? `${bootstrap} (${extra.join(', ')})` : bootstrap;
  o.log(`broker pid ${pid} starting on ${where} (log: ${logFile})`);

  const deadline = started + o.readyTimeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new LocalBrokerError(
        `The broker exited (code ${exited}) before it answered. Last log lines:\n${tail(logFile)}`,
      );
    }
    if (await allAnswer(ports)) {
      const answered = await describeCluster(bootstrap);
      if (answered !== undefined && (await waitForGroupCoordinator(bootstrap, deadline))) {
        return {
          bootstrap,
          ...saslBootstrap,
          clusterId: answered,
          pid,
          stateDir: o.stateDir,
          logFile,
          alreadyRunning: false,
          startupMs: Date.now() - started,
        };
      }
    }
    await sleep(100);
  }
  await stopPid(pid, 10_000);
  throw new LocalBrokerError(
    `The broker did not answer a metadata request on ${bootstrap} within ${o.readyTimeoutMs} ms. Last log lines:\n${tail(logFile)}`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopPid(pid: number, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export type StopResult = { stopped: true; pid: number } | { stopped: false; reason: string };

/** Stops only the broker this project started at that state dir, by its recorded pid. */
export async function stopLocalBroker(options: LocalBrokerOptions = {}, timeoutMs = 20_000): Promise<StopResult> {
  const o = resolveOptions(options);
  const pid = readPid(o.stateDir);
  if (pid === undefined) return { stopped: false, reason: `no pid file in ${o.stateDir}` };
  if (!isOurBroker(pid, o.stateDir)) {
    rmSync(pidFile(o.stateDir), { force: true });
    return { stopped: false, reason: `pid ${pid} is not a broker started here (stale pid file removed)` };
  }
  await stopPid(pid, timeoutMs);
  rmSync(pidFile(o.stateDir), { force: true });
  return { stopped: true, pid };
}

export interface BrokerStatus {
  running: boolean;
  pid?: number;
  bootstrap: string;
  clusterId?: string;
}

export async function localBrokerStatus(options: LocalBrokerOptions = {}): Promise<BrokerStatus> {
  const o = resolveOptions(options);
  const bootstrap = `127.0.0.1:${o.port}`;
  const pid = readPid(o.stateDir);
  if (pid === undefined || !isOurBroker(pid, o.stateDir)) return { running: false, bootstrap };
  const clusterId = await describeCluster(bootstrap);
  return clusterId === undefined ? { running: true, pid, bootstrap } : { running: true, pid, bootstrap, clusterId };
}
