/**
 * Test certificates made with node-forge (openssl may not exist in CI): a CA, server and client certificates it
 * signs, and variants (another CA, expired certificates). RSA keys come from Node's crypto, which is much faster than
 * forge's pure JavaScript key generation.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import forge from 'node-forge';

/** A certificate and its private key, in PEM. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** A CA that can issue certificates. */
export interface TestCa extends CertificatePair {
  issue(options: IssueOptions): CertificatePair;
}

/** What an issued certificate says. */
export interface IssueOptions {
  commonName: string;
  /** DNS names and IP addresses (subject alternative names). */
  dnsNames?: string[];
  ips?: string[];
  /** For clients (clientAuth) or servers (serverAuth). */
  usage: 'server' | 'client';
  /** Valid from/to; one day before now to a year after by default. */
  notBefore?: Date;
  notAfter?: Date;
}

let serial = 1;

function rsaKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), pem };
}

function certificate(
  subject: string,
  publicKey: forge.pki.PublicKey,
  notBefore: Date,
  notAfter: Date,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: subject }]);
  return cert;
}

const DAY_MS = 24 * 3600 * 1000;

/** A self-signed CA named `name`. */
export function createTestCa(name: string): TestCa {
  const keys = rsaKeys();
  const caCert = certificate(name, keys.publicKey, new Date(Date.now() - DAY_MS), new Date(Date.now() + 365 * DAY_MS));
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    cert: forge.pki.certificateToPem(caCert),
    key: keys.pem,
    issue(options) {
      const leafKeys = rsaKeys();
      const leaf = certificate(
        options.commonName,
        leafKeys.publicKey,
        options.notBefore ?? new Date(Date.now() - DAY_MS),
        options.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
      );
      leaf.setIssuer(caCert.subject.attributes);
      leaf.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        options.usage === 'server'
          ? { name: 'extKeyUsage', serverAuth: true }
          : { name: 'extKeyUsage', clientAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
            ...(options.ips ?? []).map((ip) => ({ type: 7, ip })),
          ],
        },
        { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
      ]);
      leaf.sign(keys.privateKey, forge.md.sha256.create());
      return { cert: forge.pki.certificateToPem(leaf), key: leafKeys.pem };
    },
  };
}

/** Every PEM file a TLS test needs, written to `dir`. */
export interface TestPki {
  caPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** A CA that signed nothing the server knows, and a client certificate it issued. */
  otherCaPath: string;
  otherClientCertPath: string;
  otherClientKeyPath: string;
  expiredServerCertPath: string;
  expiredServerKeyPath: string;
  expiredClientCertPath: string;
  expiredClientKeyPath: string;
  /** The PEM texts, for in-process servers. */
  pem: { ca: string; server: CertificatePair; expiredServer: CertificatePair };
}

/** Creates a CA, a server certificate for localhost and 127.0.0.1, a client certificate, and the bad variants. */
export async function writeTestPki(dir: string): Promise<TestPki> {
  const ca = createTestCa('mloe test CA');
  const other = createTestCa('another CA');
  const past = { notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) };
  const server = ca.issue({ commonName: 'localhost', dnsNames: ['localhost'], ips: ['127.0.0.1'], usage: 'server' });
  const client = ca.issue({ commonName: 'mloe-worker', usage: 'client' });
  const otherClient = other.issue({ commonName: 'intruder', usage: 'client' });
  const expiredServer = ca.issue({
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ips: ['127.0.0.1'],
    usage: 'server',
    ...past,
  });
  const expiredClient = ca.issue({ commonName: 'old-worker', usage: 'client', ...past });
  const files: Record<string, string> = {
    'ca.pem': ca.cert,
    'server.pem': server.cert,
    'server-key.pem': server.key,
    'client.pem': client.cert,
    'client-key.pem': client.key,
    'other-ca.pem': other.cert,
    'other-client.pem': otherClient.cert,
    'other-client-key.pem': otherClient.key,
    'expired-server.pem': expiredServer.cert,
    'expired-server-key.pem': expiredServer.key,
    'expired-client.pem': expiredClient.cert,
    'expired-client-key.pem': expiredClient.key,
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 });
  return {
    caPath: join(dir, 'ca.pem'),
    serverCertPath: join(dir, 'server.pem'),
    serverKeyPath: join(dir, 'server-key.pem'),
    clientCertPath: join(dir, 'client.pem'),
    clientKeyPath: join(dir, 'client-key.pem'),
    otherCaPath: join(dir, 'other-ca.pem'),
    otherClientCertPath: join(dir, 'other-client.pem'),
    otherClientKeyPath: join(dir, 'other-client-key.pem'),
    expiredServerCertPath: join(dir, 'expired-server.pem'),
    expiredServerKeyPath: join(dir, 'expired-server-key.pem'),
    expiredClientCertPath: join(dir, 'expired-client.pem'),
    expiredClientKeyPath: join(dir, 'expired-client-key.pem'),
    pem: { ca: ca.cert, server, expiredServer },
  };
}
