// The shell's root load: a client-side app (no SSR, nothing prerendered) that fetches the UI settings, the server's
// capabilities and the namespaces once, as Temporal's own app layout does.
import type { LayoutLoad } from './$types';

import { fetchCluster, fetchSystemInfo } from '@temporalio/ui/services/cluster-service';
import { fetchNamespaces } from '@temporalio/ui/services/namespaces-service';
import { fetchSettings } from '@temporalio/ui/services/settings-service';

import '../app.css';

export const ssr = false;
export const prerender = false;

export const load: LayoutLoad = async ({ fetch }) => {
  const settings = await fetchSettings(fetch);
  void fetchNamespaces(settings, fetch);
  const [cluster, systemInfo] = await Promise.all([fetchCluster(settings, fetch), fetchSystemInfo(settings, fetch)]);
  return { settings, cluster, systemInfo };
};
