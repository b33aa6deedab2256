// Tailwind scans the shell and the @temporalio/ui components for the classes they use, with Temporal's theme plugin
// (by path: the package exports it only under the `import` condition, which Tailwind's config loader does not use).
import temporal, { textStyles } from './node_modules/@temporalio/ui/dist/theme/plugin.js';

/** @type {import('tailwindcss').Config} */
export default {
  content: ['./src/**/*.{html,js,svelte,ts}', './node_modules/@temporalio/ui/dist/**/*.{svelte,js}'],
  darkMode: ['selector', '[data-theme="dark"]'],
  theme: {
    fontFamily: {
      sans: ['ui-sans-serif', 'system-ui', 'sans-serif'],
      mono: ['ui-monospace', 'SFMono-Regular', 'Menlo', 'monospace'],
    },
    extend: { zIndex: { 100: '100' } },
  },
  plugins: [temporal, textStyles],
};
