// The console is served by the Python server (src/icvcloud/api/console.py), which
// expects the bundle in src/icvcloud/web_dist/: index.html plus hashed files in assets/.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../src/icvcloud/web_dist", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: true,
    // maplibre-gl is ~1 MB minified by itself; warn only beyond that.
    chunkSizeWarningLimit: 1600,
  },
  server: {
    // `npx vite` for development, against `icv demo` on its default port.
    proxy: { "/api": { target: "http://127.0.0.1:8080", ws: true } },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
