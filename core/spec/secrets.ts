/**
 * Secret references of `run:` steps (`run.secrets.<ENV_NAME>.secretRef`): where a secret's value is, never the value.
 * `env:NAME` is a variable of the worker's environment, `file:PATH` a file under the worker's allowed secret roots,
 * `k8s:SECRET/KEY` a key of a Kubernetes Secret (Kubernetes executor only). Pure: the spec schema checks references
 * with it, activities resolve them (`activities/secrets/`).
 */

/** A parsed secret reference. */
export type SecretRef =
  { kind: 'env'; name: string } | { kind: 'file'; path: string } | { kind: 'k8s'; secret: string; key: string };

/** What a reference looks like, for messages. */
export const SECRET_REF_HINT =
  "write env:NAME (a variable of the worker), file:/run/secrets/name (a file under the worker's secret roots) or " +
  'k8s:secret-name/key (a Kubernetes Secret, kubernetes executor only)';

/** POSIX-portable environment variable names: of `env:` references and of the variables secrets are given as. */
export const SECRET_ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A Kubernetes Secret name: a DNS subdomain. */
const K8S_SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** A key of a Secret's data. */
const K8S_SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * Parses a reference; returns the problem as a string when it is not one (no value is ever part of a message: a
 * reference names where a secret is, and is not secret itself).
 */
export function parseSecretRef(text: string): SecretRef | string {
  const colon = text.indexOf(':');
  const scheme = colon < 0 ? '' : text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (scheme) {
    case 'env':
      return SECRET_ENV_NAME_PATTERN.test(rest) ? { kind: 'env', name: rest } : `env:${rest} is not a variable name`;
    case 'file':
      if (rest === '' || rest.includes('\0')) return 'file: needs a path';
      if (rest.split(/[\\/]/).includes('..')) return `file:${rest} contains "..": name the file itself`;
      return { kind: 'file', path: rest };
    case 'k8s': {
      const slash = rest.indexOf('/');
      const secret = rest.slice(0, slash);
      const key = rest.slice(slash + 1);
      if (slash < 0 || !K8S_SECRET_NAME.test(secret) || secret.length > 253 || !K8S_SECRET_KEY.test(key)) {
        return `k8s:${rest} is not secret-name/key`;
      }
      return { kind: 'k8s', secret, key };
    }
    default:
      return `${JSON.stringify(text)} is not a secret reference`;
  }
}
