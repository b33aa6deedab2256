// The SvelteKit configuration of mloe's Web UI shell: a single-page app built to static files (adapter-static with
// an index.html fallback), as Temporal's own ui-server embeds the UI. Paths are absolute and the base is empty; the
// UI server rewrites index.html for --ui-public-path, as Temporal's ui-server does.
import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
export default {
  preprocess: vitePreprocess(),
  kit: {
    adapter: adapter({ pages: 'out', assets: 'out', fallback: 'index.html', precompress: false }),
    paths: { base: '', relative: false },
    prerender: { entries: [] },
    // The assets change only with mloe itself: no polling for a new version. The version name is the build inputs'
    // hash (set by `npm run build:ui`), not the build time, so the same inputs build the same files.
    version: { name: process.env.MLOE_UI_BUILD_ID ?? 'dev', pollInterval: 0 },
  },
};
