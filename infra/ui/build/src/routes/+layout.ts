// The shell's root load: a client-side app (no SSR, nothing prerendered) that fetches the UI settings, the server's
// capabilities and the namespaces once, as Temporal's own app layout does.
import type { LayoutLoad } from './$types';

import { fetchCluster, fetchSystemInfo } from '@temporalio/ui/services/cluster-service';
import { fetchNamespaces } from '@temporalio/ui/services/namespaces-service';
import { fetchSettings } from '@temporalio/ui/services/settings-service';
import { i18nNamespaces } from '@temporalio/ui/i18n/index';
import Locales from '@temporalio/ui/i18n/locales/index';
import i18next from 'i18next';

import '../app.css';

// The library's `translate` reads i18next's global instance, which Temporal's own app initialises at start; without
// this every translated label (page titles, buttons, the schedules table's cells) renders empty.
void i18next.init({
  lng: 'en',
  fallbackLng: 'en',
  ns: i18nNamespaces,
  defaultNS: 'common',
  resources: Locales,
  interpolation: { escapeValue: false },
});

export const ssr = false;
export const prerender = false;

export const load: LayoutLoad = async ({ fetch }) => {
  const settings = await fetchSettings(fetch);
  void fetchNamespaces(settings, fetch);
  const [cluster, systemInfo] = await Promise.all([fetchCluster(settings, fetch), fetchSystemInfo(settings, fetch)]);
  return { settings, cluster, systemInfo };
};
