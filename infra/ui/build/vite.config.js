// Vite configuration of the Web UI shell. The UI reads three build-time variables: VITE_API (empty: the API is on
// the UI's own origin, under its public path), the build target (`local`, not cloud) and the dark-mode default.
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// MLOE_UI_SOURCEMAP=hidden builds with source maps not referenced from the code, for profiling with readable names
// (docs/ui.md, "Profiling the UI"); `npm run build:ui` never sets it, so the committed assets have none.
const sourcemap = process.env.MLOE_UI_SOURCEMAP === 'hidden' ? 'hidden' : false;

export default defineConfig({
  plugins: [sveltekit()],
  define: {
    'import.meta.env.VITE_API': JSON.stringify(''),
    'import.meta.env.VITE_TEMPORAL_UI_BUILD_TARGET': JSON.stringify('local'),
    'import.meta.env.VITE_DARK_MODE': JSON.stringify('system'),
  },
  build: { sourcemap, reportCompressedSize: false, chunkSizeWarningLimit: 4096 },
});
