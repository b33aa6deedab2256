/**
 * Temporal's HTTP API for the embedded dev server: the routes of the `google.api.http` annotations in the SDK's
 * protos, on the same handlers as gRPC, in proto3 JSON; plus the UI server's `/api/v1/settings` and raw history
 * download. `createTemporalHttpApi` builds the hono app (the Web UI's server mounts it), `startHttpApiServer` runs
 * it on a port of its own (`mloe server start-dev --http-port`). See docs/devserver.md, "HTTP API".
 */
export { createTemporalHttpApi, temporalRouteTable } from './app';
export type { TemporalHttpApiDeps, TemporalHttpApiOptions } from './app';
export { httpStatusFromCode } from './errors';
export { buildRouteTable, TEMPORAL_HTTP_SERVICES } from './routes';
export type { Route, RouteMatch, RouteTable } from './routes';
export { defaultAllowedHosts } from './security';
export type { HttpSecurityOptions } from './security';
export { DEFAULT_UI_VERSION, uiSettings } from './settings';
export type { UiSettingsOptions } from './settings';
export { startHttpApiServer } from './server';
export type { HttpApiServerHandle, HttpApiServerOptions } from './server';
