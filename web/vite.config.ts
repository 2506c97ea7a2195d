// Builds the Svelte dashboard to static files (web/dist) that the control plane serves at /.
// `npm run web:build` and the postinstall step run it from the repository root, so the root
// is pinned to this folder. `vite --config web/vite.config.ts` serves it with /graphql
// (HTTP and WebSocket) proxied to a control plane on SLUICE_PORT (default 4000).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const root = fileURLToPath(new URL('.', import.meta.url));
const controlPlane = `http://127.0.0.1:${process.env.SLUICE_PORT ?? '4000'}`;

export default defineConfig({
  root,
  base: '/',
  plugins: [svelte()],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { '/graphql': { target: controlPlane, ws: true }, '/terminal': { target: controlPlane, ws: true } },
  },
});
