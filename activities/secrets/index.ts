/** Secrets of steps: references resolved inside activities, and the redactor of their values. */
export { REDACTED, SecretRedactor, processRedactor } from './redactor';
export {
  DEFAULT_SECRET_FILE_ROOTS,
  parseStepSecrets,
  resolveStepSecrets,
  type SecretSources,
  type StepSecrets,
} from './resolve';
