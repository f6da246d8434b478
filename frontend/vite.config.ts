import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { fileURLToPath, URL } from "node:url";
import { defineConfig } from "vite";

// The API's origin in development (`make dev-web`): the local stack. Its CSRF check compares the
// refresh cookie call's Origin with APP_URL, so the proxy presents that origin.
const api = process.env.MM_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: { sourcemap: false, chunkSizeWarningLimit: 4096 },
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/api": {
        target: api,
        changeOrigin: true,
        configure: (proxy) => {
          proxy.on("proxyReq", (request) => request.setHeader("origin", api));
        },
      },
      "/dev": { target: api, changeOrigin: true },
    },
  },
});
