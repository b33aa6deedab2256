/**
 * Connecting securely: the embedded dev server serving TLS, mutual TLS and API keys, reached by the official client
 * (`@temporalio/client`) and the worker's connection (`NativeConnection`) configured from flags, `TEMPORAL_*`
 * variables and Temporal's config file profiles; every handshake failure's error names the setting at fault. End to
 * end: `mloe server start-dev --tls-*`, `mloe worker` and `mloe run` of the demo pipeline over mutual TLS, as
 * processes. Certificates are made in the test with node-forge.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { buildProgram } from '../clients/cli';
import { connectClient, connectNative } from '../clients/connection';
import { startDevServer, type DevServerHandle } from '../infra/devserver';
import { parseStartDevArgs } from '../clients/start-dev-config';
import { loadConnectionConfig, loadWorkerConfig, type ConfigEnv, type SettingFlags } from '../workers/config';
import { loadTemporalClientSettings } from '../workers/temporal-client-config';
import { serverAddress } from './devserver/harness';
import { writeTestPki, type TestPki } from './support/certificates';
import { childEnv, suiteChildren } from './support/mloe-child';
import { mloeRejection } from './support/rejection';
import { suiteTemporaryDirectories } from './temporary-directories';
import { stopDeployment } from '../activities/ml/steps/deploy-step';
import { pipelineStatusQuery } from '../workflows/types';
import { suiteWorkflowBundle } from './pipeline-harness';

/** The demo's model, under a name of this suite's own in the shared MLflow server. */
const DEMO_MODEL_IN_TEST = `penguins-tls-${process.pid}`;

jest.setTimeout(120_000);

const REPO = resolve(__dirname, '..');
/** The worker image's entrypoint (infra/docker/Dockerfile), run with node as the container runs it. */
const ENTRYPOINT = join(REPO, 'bin', 'docker-entrypoint.js');
const temporaryDirectory = suiteTemporaryDirectories('mloe-tls-test-');

/** No config file unless a test writes one: HOME and XDG point at an empty directory. */
let noConfigHome: ConfigEnv;
let pki: TestPki;
let tlsServer: DevServerHandle;
let mtlsServer: DevServerHandle;
let apiKeyServer: DevServerHandle;
let expiredServer: DevServerHandle;
const API_KEY = 'mloe-test-key-3f9c2a';

beforeAll(async () => {
  const directory = await temporaryDirectory();
  pki = await writeTestPki(directory);
  noConfigHome = { HOME: directory, XDG_CONFIG_HOME: join(directory, 'xdg') };
  const tls = { cert: Buffer.from(pki.pem.server.cert), key: Buffer.from(pki.pem.server.key) };
  [tlsServer, mtlsServer, apiKeyServer, expiredServer] = await Promise.all([
    startDevServer({ port: 0, tls }),
    startDevServer({ port: 0, tls: { ...tls, ca: Buffer.from(pki.pem.ca) } }),
    startDevServer({ port: 0, tls, apiKeys: [API_KEY] }),
    startDevServer({
      port: 0,
      tls: { cert: Buffer.from(pki.pem.expiredServer.cert), key: Buffer.from(pki.pem.expiredServer.key) },
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([tlsServer, mtlsServer, apiKeyServer, expiredServer].map((server) => server?.close()));
});

/** Connects the official client with `env` (and flags) as the CLI would, and asks the server for its info. */
async function clientCall(env: ConfigEnv, flags: SettingFlags = {}): Promise<string> {
  const connected = await connectClient(loadConnectionConfig({ env: { ...noConfigHome, ...env }, flags }));
  try {
    const info = await connected.client.workflowService.getSystemInfo({});
    return info.serverVersion ?? '';
  } finally {
    await connected.close();
  }
}

describe('TLS and mutual TLS with the official client and the worker connection', () => {
  it('connects over TLS with the server CA from TEMPORAL_TLS_SERVER_CA_CERT_PATH', async () => {
    await expect(
      clientCall({ TEMPORAL_ADDRESS: tlsServer.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caPath }),
    ).resolves.toEqual(expect.any(String));
  });

  it('connects over mutual TLS with flags, and the worker connection (NativeConnection) does too', async () => {
    const flags: SettingFlags = {
      address: mtlsServer.address,
      tlsCaPath: pki.caPath,
      tlsCertPath: pki.clientCertPath,
      tlsKeyPath: pki.clientKeyPath,
    };
    await expect(clientCall({}, flags)).resolves.toEqual(expect.any(String));
    const config = loadConnectionConfig({ env: noConfigHome, flags });
    expect(config.security?.tls?.clientCert?.origin).toBe(`--tls-cert-path (${pki.clientCertPath})`);
    const native = await connectNative(config);
    try {
      const namespace = await native.workflowService.describeNamespace({ namespace: 'default' });
      expect(namespace.namespaceInfo?.name).toBe('default');
    } finally {
      await native.close();
    }
  });

  it('a server certificate from an untrusted CA names the CA setting', async () => {
    const error = await mloeRejection(
      clientCall({ TEMPORAL_ADDRESS: tlsServer.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCaPath }),
    );
    expect(error.code).toBe('TEMPORAL_TLS_FAILED');
    expect(error.message).toContain("the server's certificate is not signed by a CA this client trusts");
    expect(error.message).toContain(`check TEMPORAL_TLS_SERVER_CA_CERT_PATH (${pki.otherCaPath})`);
    // No CA at all: the system's roots do not know the test CA either.
    const system = await mloeRejection(clientCall({ TEMPORAL_ADDRESS: tlsServer.address, TEMPORAL_TLS: 'true' }));
    expect(system.message).toContain("check the system's trusted CAs");
  });

  it('a wrong server name names --tls-server-name and the names the certificate has', async () => {
    const error = await mloeRejection(
      clientCall({}, { address: tlsServer.address, tlsCaPath: pki.caPath, tlsServerName: 'temporal.example.com' }),
    );
    expect(error.code).toBe('TEMPORAL_TLS_FAILED');
    expect(error.message).toContain(
      "the server's certificate is for localhost, 127.0.0.1, not temporal.example.com; check --tls-server-name " +
        '(temporal.example.com)',
    );
    // The name it does carry works, over an address whose host is not in the certificate's names.
    const port = tlsServer.address.split(':').pop() ?? '';
    await expect(
      clientCall({}, { address: `127.0.0.1:${port}`, tlsCaPath: pki.caPath, tlsServerName: 'localhost' }),
    ).resolves.toEqual(expect.any(String));
  });

  it('--tls-disable-host-verification skips the name check for CLI clients; workers refuse it with the fix', async () => {
    const flags: SettingFlags = {
      address: tlsServer.address,
      tlsCaPath: pki.caPath,
      tlsServerName: 'temporal.example.com',
      tlsDisableHostVerification: true,
    };
    await expect(clientCall({}, flags)).resolves.toEqual(expect.any(String));
    const error = await mloeRejection(connectNative(loadConnectionConfig({ env: noConfigHome, flags })));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('workers cannot skip');
    expect(error.message).toContain('set --tls-server-name');
  });

  it('an expired server certificate says so', async () => {
    const error = await mloeRejection(clientCall({}, { address: expiredServer.address, tlsCaPath: pki.caPath }));
    expect(error.code).toBe('TEMPORAL_TLS_FAILED');
    expect(error.message).toMatch(/the server's certificate expired on .+: the server must renew it/);
  });

  it('mutual TLS without a client certificate names the client certificate settings', async () => {
    const error = await mloeRejection(clientCall({}, { address: mtlsServer.address, tlsCaPath: pki.caPath }));
    expect(error.code).toBe('TEMPORAL_TLS_FAILED');
    expect(error.message).toContain('the server requires a client certificate (mutual TLS) and none was given');
    expect(error.message).toContain('--tls-cert-path and --tls-key-path');
  });

  it('a client certificate from a CA the server does not trust is refused, naming it', async () => {
    const error = await mloeRejection(
      clientCall(
        {},
        {
          address: mtlsServer.address,
          tlsCaPath: pki.caPath,
          tlsCertPath: pki.otherClientCertPath,
          tlsKeyPath: pki.otherClientKeyPath,
        },
      ),
    );
    expect(error.code).toBe('TEMPORAL_TLS_FAILED');
    expect(error.message).toContain(
      `the server refused the client certificate --tls-cert-path (${pki.otherClientCertPath})`,
    );
  });

  it('an expired client certificate, or a key of another certificate, is refused before connecting', () => {
    const expired = (): unknown =>
      loadConnectionConfig({
        env: {
          ...noConfigHome,
          TEMPORAL_TLS_CLIENT_CERT_PATH: pki.expiredClientCertPath,
          TEMPORAL_TLS_CLIENT_KEY_PATH: pki.expiredClientKeyPath,
        },
      });
    expect(expired).toThrow(
      new RegExp(
        `^invalid TEMPORAL_TLS_CLIENT_CERT_PATH \\(${pki.expiredClientCertPath}\\): the client certificate expired on `,
      ),
    );
    expect(() =>
      loadConnectionConfig({
        env: noConfigHome,
        flags: { tlsCertPath: pki.clientCertPath, tlsKeyPath: pki.otherClientKeyPath },
      }),
    ).toThrow('the client key does not belong to the client certificate');
    expect(() => loadConnectionConfig({ env: noConfigHome, flags: { tlsCertPath: pki.clientCertPath } })).toThrow(
      'a client certificate without its key',
    );
    expect(() => loadConnectionConfig({ env: noConfigHome, flags: { tlsCaPath: join(pki.caPath, 'nope') } })).toThrow(
      /^invalid --tls-ca-path \(.*nope\): cannot read the server CA certificate/,
    );
  });

  it('plaintext to a TLS server, and TLS to a plaintext server, each say which way to turn', async () => {
    const plaintext = await mloeRejection(clientCall({ TEMPORAL_ADDRESS: tlsServer.address }));
    expect(plaintext.code).toBe('TEMPORAL_TLS_FAILED');
    expect(plaintext.message).toContain('the server expects TLS and this client connected in plaintext: turn TLS on');
    const tls = await mloeRejection(clientCall({ TEMPORAL_ADDRESS: serverAddress(), TEMPORAL_TLS: 'true' }));
    expect(tls.code).toBe('TEMPORAL_TLS_FAILED');
    expect(tls.message).toContain('the server does not speak TLS');
    expect(tls.message).toContain('TLS was turned on by TEMPORAL_TLS=true');
    // The worker connection gets the same diagnosis.
    const worker = await mloeRejection(
      connectNative(loadConnectionConfig({ env: { ...noConfigHome, TEMPORAL_ADDRESS: tlsServer.address } })),
    );
    expect(worker.message).toContain('the server expects TLS');
  });
});

describe('API keys', () => {
  it('an API key turns TLS on, as Temporal Cloud expects, unless TLS is turned off explicitly', () => {
    const on = loadConnectionConfig({ env: { ...noConfigHome, TEMPORAL_API_KEY: API_KEY } });
    expect(on.security?.tls?.origin).toBe('TEMPORAL_API_KEY');
    expect(on.security?.apiKey).toEqual({ value: API_KEY, origin: 'TEMPORAL_API_KEY' });
    const off = loadConnectionConfig({ env: { ...noConfigHome, TEMPORAL_API_KEY: API_KEY }, flags: { tls: false } });
    expect(off.security?.tls).toBeUndefined();
  });

  it('the dev server receives authorization: Bearer <key> from the client and the worker connection', async () => {
    const env = {
      TEMPORAL_ADDRESS: apiKeyServer.address,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caPath,
    };
    await expect(clientCall(env)).resolves.toEqual(expect.any(String));
    const native = await connectNative(loadConnectionConfig({ env: { ...noConfigHome, ...env } }));
    try {
      await expect(native.workflowService.describeNamespace({ namespace: 'default' })).resolves.toBeDefined();
    } finally {
      await native.close();
    }
  });

  it('a wrong or missing API key is TEMPORAL_AUTH_FAILED naming where the key came from', async () => {
    const wrong = await mloeRejection(
      clientCall({}, { address: apiKeyServer.address, apiKey: 'not-the-key', tlsCaPath: pki.caPath }),
    );
    expect(wrong.code).toBe('TEMPORAL_AUTH_FAILED');
    expect(wrong.message).toContain('check the API key from --api-key');
    expect(wrong.message).not.toContain('not-the-key');
    const missing = await mloeRejection(clientCall({}, { address: apiKeyServer.address, tlsCaPath: pki.caPath }));
    expect(missing.code).toBe('TEMPORAL_AUTH_FAILED');
    expect(missing.message).toContain('give an API key (--api-key, TEMPORAL_API_KEY)');
  });
});

describe("Temporal's client config file and profiles", () => {
  let configFile: string;

  beforeAll(async () => {
    const directory = await temporaryDirectory();
    configFile = join(directory, 'temporal.toml');
    await writeFile(
      configFile,
      [
        '[profile.default]',
        `address = "${serverAddress()}"`,
        '',
        '[profile.secure]',
        `address = "${mtlsServer.address}"`,
        'namespace = "default"',
        '[profile.secure.tls]',
        `client_cert_path = "${pki.clientCertPath}"`,
        `client_key_path = "${pki.clientKeyPath}"`,
        `server_ca_cert_path = "${pki.caPath}"`,
        '[profile.secure.grpc_meta]',
        'x-team = "ml"',
        '',
        '[profile.cloud]',
        `address = "${apiKeyServer.address}"`,
        `api_key = "${API_KEY}"`,
        '[profile.cloud.tls]',
        `server_ca_cert_data = """\n${pki.pem.ca}"""`,
        '',
      ].join('\n'),
    );
  });

  it('TEMPORAL_CONFIG_FILE with the default profile, --profile and TEMPORAL_PROFILE', async () => {
    const byDefault = loadConnectionConfig({ env: { ...noConfigHome, TEMPORAL_CONFIG_FILE: configFile } });
    expect(byDefault.address).toBe(serverAddress());
    expect(byDefault.addressOrigin).toBe(`profile "default" of ${configFile} (address)`);
    expect(byDefault.security).toBeUndefined();

    await expect(clientCall({ TEMPORAL_CONFIG_FILE: configFile }, { profile: 'secure' })).resolves.toEqual(
      expect.any(String),
    );
    await expect(clientCall({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' })).resolves.toEqual(
      expect.any(String),
    );
    const secure = loadConnectionConfig({ env: noConfigHome, flags: { configFile, profile: 'secure' } });
    expect(secure.security?.grpcMeta).toEqual({ 'x-team': 'ml' });
    expect(secure.security?.tls?.clientCert?.origin).toBe(
      `profile "secure" of ${configFile} (tls.client_cert_path) (${pki.clientCertPath})`,
    );
  });

  it('the default file is ~/.config/temporalio/temporal.toml (XDG_CONFIG_HOME first)', async () => {
    const home = await temporaryDirectory();
    const { mkdir, copyFile } = await import('node:fs/promises');
    await mkdir(join(home, '.config', 'temporalio'), { recursive: true });
    await copyFile(configFile, join(home, '.config', 'temporalio', 'temporal.toml'));
    const config = loadConnectionConfig({ env: { HOME: home, TEMPORAL_PROFILE: 'secure' } });
    expect(config.address).toBe(mtlsServer.address);
  });

  it('flags win over variables, which win over the profile', () => {
    const settings = { env: { ...noConfigHome, TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' } };
    const fromEnv = loadConnectionConfig({
      env: { ...settings.env, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_API_KEY: 'env-key' },
    });
    expect(fromEnv.address).toBe('127.0.0.1:1');
    expect(fromEnv.security?.apiKey?.origin).toBe('TEMPORAL_API_KEY');
    const fromFlags = loadConnectionConfig({
      env: { ...settings.env, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_API_KEY: 'env-key' },
      flags: { address: '127.0.0.1:2', apiKey: 'flag-key' },
    });
    expect(fromFlags.address).toBe('127.0.0.1:2');
    expect(fromFlags.security?.apiKey).toEqual({ value: 'flag-key', origin: '--api-key' });
    const noFile = loadTemporalClientSettings({ env: settings.env, flags: { disableConfigFile: true } });
    expect(noFile).toEqual({ security: {} });
  });

  it('an unknown profile, a malformed file and a bad value each say where', async () => {
    expect(() =>
      loadConnectionConfig({ env: { ...noConfigHome, TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'prod' } }),
    ).toThrow(
      `invalid TEMPORAL_PROFILE "prod": no profile "prod" in ${configFile}; fix: use one of default, secure, cloud`,
    );
    const directory = await temporaryDirectory();
    const broken = join(directory, 'broken.toml');
    await writeFile(broken, '[profile.default\naddress = 1\n');
    expect(() => loadConnectionConfig({ env: noConfigHome, flags: { configFile: broken } })).toThrow(
      new RegExp(`^invalid --config-file: .*broken\\.toml is not valid TOML`),
    );
    const wrongType = join(directory, 'wrong.toml');
    await writeFile(wrongType, '[profile.default]\naddress = 7233\n');
    expect(() => loadConnectionConfig({ env: noConfigHome, flags: { configFile: wrongType } })).toThrow(
      /wrong\.toml: profile\.default\.address .*expected string/i,
    );
    const badAddress = join(directory, 'address.toml');
    await writeFile(badAddress, '[profile.default]\naddress = "http://x:7233"\n');
    expect(() => loadConnectionConfig({ env: noConfigHome, flags: { configFile: badAddress } })).toThrow(
      `invalid profile "default" of ${badAddress} (address) "http://x:7233": an address is host:port, not a URL`,
    );
    expect(() => loadConnectionConfig({ env: { ...noConfigHome, TEMPORAL_TLS: 'yes' } })).toThrow(
      'invalid TEMPORAL_TLS="yes": not true or false',
    );
  });

  it('mloe list --profile over mutual TLS, in process', async () => {
    const out: string[] = [];
    const err: string[] = [];
    let code = -1;
    const program = buildProgram(
      { stdout: (line) => out.push(line), stderr: (line) => err.push(line) },
      (c) => {
        code = c;
      },
      noConfigHome,
    );
    await program.parseAsync(['node', 'mloe', 'list', '--config-file', configFile, '--profile', 'secure']);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/no pipeline runs|^run +pipeline/);
  });
});

describe('mloe server start-dev --tls-*', () => {
  it('parses the flags into TLS material, and says what is missing', () => {
    const config = parseStartDevArgs([
      '--tls-cert',
      pki.serverCertPath,
      '--tls-key',
      pki.serverKeyPath,
      '--tls-ca',
      pki.caPath,
    ]);
    expect(config.server.tls?.cert.toString()).toBe(pki.pem.server.cert);
    expect(config.server.tls?.ca?.toString()).toBe(pki.pem.ca);
    expect(() => parseStartDevArgs(['--tls-cert', pki.serverCertPath])).toThrow(
      'TLS needs both --tls-cert and --tls-key',
    );
    expect(() =>
      parseStartDevArgs(['--tls-cert', pki.serverCertPath, '--tls-key', join(REPO, 'package.json')]),
    ).toThrow(/--tls-key .*package\.json: not a PEM file/);
  });
});

describe('end to end over mutual TLS: start-dev --tls-*, the worker image entrypoint, mloe run of the demo', () => {
  const start = suiteChildren('SIGTERM');
  let artifacts: string | undefined;
  afterAll(async () => {
    if (artifacts !== undefined) await stopDeployment(artifacts, `${DEMO_MODEL_IN_TEST}@champion`);
  });

  it('runs the demo pipeline through a worker container entrypoint connected with mutual TLS', async () => {
    artifacts = await temporaryDirectory();
    const server = start(
      [
        'server',
        'start-dev',
        '--port',
        '0',
        '--headless',
        '--tls-cert',
        pki.serverCertPath,
        '--tls-key',
        pki.serverKeyPath,
        '--tls-ca',
        pki.caPath,
      ],
      { env: childEnv(noConfigHome) },
    );
    const [, address] = await server.waitForOutput(/is running at (\S+)\n/);
    await server.waitForOutput(/TLS: on, client certificates required \(mutual TLS\)/);
    const tlsEnv = {
      TEMPORAL_ADDRESS: address ?? '',
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCertPath,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKeyPath,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caPath,
    };
    // The image's settings: a workflow bundle built beforehand, as the Dockerfile builds it.
    const bundle = join(artifacts, 'workflow-bundle.js');
    await writeFile(bundle, (await suiteWorkflowBundle()).code);
    const worker = start([], {
      env: childEnv({
        ...noConfigHome,
        ...tlsEnv,
        MLOE_WORKFLOW_BUNDLE: bundle,
        MLOE_ARTIFACT_STORE: `file://${artifacts}/.mloe/artifacts`,
        MLFLOW_TRACKING_URI: process.env.MLFLOW_TEST_TRACKING_URI ?? '',
      }),
      cwd: artifacts,
      script: ENTRYPOINT,
    });
    await worker.waitForOutput(/pipeline worker ready: address \S+ \(mutual TLS\)/, 180_000);

    // The demo's pipeline (its model under a name of this test's own in the shared MLflow server).
    const run = start(
      [
        'run',
        join(REPO, 'pipelines', 'penguins', 'pipeline.yaml'),
        '--wait',
        '-p',
        `source=${join(REPO, 'node_modules', 'vega-datasets', 'data', 'penguins.json')}`,
        '-p',
        `modelName=${DEMO_MODEL_IN_TEST}`,
      ],
      { env: childEnv({ ...noConfigHome, ...tlsEnv }), cwd: artifacts },
    );
    const { code } = await run.exited;
    expect({ code, completed: /completed/i.test(run.output), output: run.output }).toMatchObject({
      code: 0,
      completed: true,
    });
    expect(run.output).toMatch(/^deploy +completed /m);
    const [, runId] = /(penguins-\w+)/.exec(run.output) ?? [];

    // The official client over mutual TLS sees the run completed, with its model promoted and served.
    const connected = await connectClient(loadConnectionConfig({ env: { ...noConfigHome, ...tlsEnv } }));
    try {
      const handle = connected.client.workflow.getHandle(runId ?? '');
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      const status = await handle.query(pipelineStatusQuery);
      expect(status.steps.find((step) => step.id === 'promote')?.promotion?.state).toBe('promoted');
    } finally {
      await connected.close();
    }
  }, 400_000);

  it('a worker configuration over TLS keeps the security in WorkerConfig', () => {
    const config = loadWorkerConfig({
      env: {
        ...noConfigHome,
        TEMPORAL_ADDRESS: mtlsServer.address,
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCertPath,
        TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKeyPath,
      },
    });
    expect(config.security?.tls?.clientCert).toBeDefined();
    // `mloe dev` embeds its server: plaintext, whatever the environment says.
    const embedded = loadWorkerConfig(
      { env: { ...noConfigHome, TEMPORAL_API_KEY: API_KEY } },
      { address: '127.0.0.1:7233' },
    );
    expect(embedded.security).toBeUndefined();
  });
});
