/**
 * The model a server answers with, and its hot reload: {@link ModelHolder} resolves the model URI through the
 * registry, loads the version behind it, and on each {@link ModelHolder.refresh} (polled by the server) loads a new
 * version when an alias moved, then swaps one reference. A request reads that reference once when it starts, so
 * in-flight requests finish on the model they began with and no request sees half a swap. A failed refresh keeps the
 * old model and is reported by `/health`.
 */
import { MloeError, ensureError } from '../../core/errors';
import type { MlflowClient } from '../mlflow';
import { loadModelVersion, resolveVersion, type LoadedModel } from '../ml/models/registry';

/** The served model and when it was loaded. */
export interface ServedModel {
  loaded: LoadedModel;
  loadedAt: Date;
}

/** Holds the current model of one `models:/` URI. */
export class ModelHolder {
  readonly uri: string;
  readonly #client: MlflowClient;
  #current: ServedModel | undefined;
  #refreshing: Promise<boolean> | undefined;
  /** The last refresh's failure, until a refresh succeeds. */
  lastError: string | undefined;
  /** How many times the model was swapped after the first load. */
  reloads = 0;

  constructor(client: MlflowClient, uri: string) {
    this.#client = client;
    this.uri = uri;
  }

  /** The model requests use now; `INTERNAL` before the first load. */
  get current(): ServedModel {
    if (this.#current === undefined) throw new MloeError('INTERNAL', 'no model is loaded yet');
    return this.#current;
  }

  /** Whether the URI names a fixed version (nothing to poll). */
  get pinned(): boolean {
    return /^models:\/[^@]+\/\d+$/.test(this.uri);
  }

  /** Loads the model for the first time; `ARTIFACT_NOT_FOUND` when nothing is registered under the URI. */
  async load(): Promise<ServedModel> {
    await this.refresh(true);
    return this.current;
  }

  /**
   * Resolves the URI again and swaps in the version behind it when it changed; true when it swapped. Concurrent calls
   * share one refresh. `throwErrors` (the first load) rethrows instead of recording the failure.
   */
  async refresh(throwErrors = false): Promise<boolean> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    try {
      const swapped = await this.#refreshing;
      this.lastError = undefined;
      return swapped;
    } catch (error) {
      if (throwErrors) throw error;
      this.lastError = ensureError(error).message;
      return false;
    }
  }

  async #refresh(): Promise<boolean> {
    const resolved = await resolveVersion(this.#client, this.uri);
    if (resolved === undefined) {
      throw new MloeError(
        'ARTIFACT_NOT_FOUND',
        `nothing is registered as ${this.uri}: register a model (register@1) or set the alias`,
      );
    }
    if (this.#current !== undefined && this.#current.loaded.version === resolved.version.version) return false;
    const loaded = await loadModelVersion(this.#client, this.uri, resolved.version, resolved.artifactUri);
    const first = this.#current === undefined;
    this.#current = { loaded, loadedAt: new Date() };
    if (!first) this.reloads += 1;
    return true;
  }
}
