// Vite build of the rce browser editor. The output (web/dist) is served by
// rce itself at `/`, on the same origin as the API, so nothing here needs a
// base URL; `npm run dev` proxies the API to a local rce on :8080.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const api = process.env.RCE_DEV_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Monaco is large by nature; it is served locally with a long cache.
    chunkSizeWarningLimit: 6000,
    sourcemap: false,
  },
  worker: { format: "es" },
  server: {
    proxy: {
      "/api": { target: api, ws: true, changeOrigin: false },
      "/healthz": api,
      "/readyz": api,
    },
  },
});
