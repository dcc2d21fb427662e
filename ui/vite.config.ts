import { defineConfig } from "vitest/config";
import preact from "@preact/preset-vite";

// The Tauri window loads dist/ (custom-protocol builds) or this dev server (`tauri dev`).
export default defineConfig({
  plugins: [preact()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true },
  test: { environment: "happy-dom" },
});
