// The namespace's search attributes, loaded before any of its pages renders, as Temporal's own namespace layout does:
// the workflow list fills a custom search attribute's column (mloe's MloePipeline and MloeStatus) only for the
// attributes in this store, and the filter offers them with their types.
import { fetchSearchAttributesForNamespace } from '@temporalio/ui/services/search-attributes-service';
import { allSearchAttributes } from '@temporalio/ui/stores/search-attributes';

import type { LayoutLoad } from './$types';

export const load: LayoutLoad = async ({ params, parent, fetch }) => {
  // The settings first: the API's address comes from them.
  await parent();
  allSearchAttributes.set(await fetchSearchAttributesForNamespace(params.namespace, fetch));
};
