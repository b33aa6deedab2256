/**
 * Secret references of `run:` steps (`run.secrets.<ENV_NAME>.secretRef`): where a secret's value is, never the value.
 * `env:NAME` is a variable of the worker's environment, `file:PATH` a file under the worker's allowed secret roots,
 * `k8s:SECRET/KEY` a key of a Kubernetes Secret (Kubernetes executor only), `aws-sm:ARN` a Secrets Manager secret
 * and `ssm:NAME` an SSM parameter (Batch executor only: its job definition declares them). Pure: the spec schema checks references
 * with it, activities resolve them (`activities/secrets/`).
 */

/** A parsed secret reference. */
export type SecretRef =
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'k8s'; secret: string; key: string }
  /** A Secrets Manager secret (its ARN) or an SSM parameter (name or ARN), declared in a Batch job definition. */
  | { kind: 'aws-sm' | 'ssm'; valueFrom: string };

/** What a reference looks like, for messages. */
export const SECRET_REF_HINT =
  "write env:NAME (a variable of the worker), file:/run/secrets/name (a file under the worker's secret roots) or " +
  'k8s:secret-name/key (a Kubernetes Secret, kubernetes executor only), aws-sm:<secret ARN> or ssm:<parameter> ' +
  "(declared in the batch executor's job definition)";

/** POSIX-portable environment variable names: of `env:` references and of the variables secrets are given as. */
export const SECRET_ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A Kubernetes Secret name: a DNS subdomain. */
const K8S_SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** A key of a Secret's data. */
const K8S_SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** A Secrets Manager secret's ARN (optionally with the `:json-key:version-stage:version-id` ECS accepts after it). */
const SECRETS_MANAGER_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^\s]+$/;
/** An SSM parameter: its name (`/a/b` or `b`) or its ARN. */
const SSM_PARAMETER = /^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9_.\-/]+|\/?[A-Za-z0-9_.\-/]+)$/;

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
    case 'aws-sm':
      return SECRETS_MANAGER_ARN.test(rest)
        ? { kind: 'aws-sm', valueFrom: rest }
        : `aws-sm:${rest} is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)`;
    case 'ssm':
      return SSM_PARAMETER.test(rest)
        ? { kind: 'ssm', valueFrom: rest }
        : `ssm:${rest} is not an SSM parameter name (/path/name) or ARN`;
    default:
      return `${JSON.stringify(text)} is not a secret reference`;
  }
}
