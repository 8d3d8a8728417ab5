// One entry per page: every `src/<page>/main.(ts|tsx|js|jsx)` becomes `static/bundle/<page>.js`
// (and `<page>.css` when it imports CSS). Shared code and lazily loaded parts go to
// `static/bundle/chunks/` under content-hashed names, so a build is byte-for-byte repeatable.
import { readdirSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = resolve(HERE, "src");
const OUT = resolve(HERE, "../static/bundle");

function pageEntries(): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const dir of readdirSync(SRC, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const ext of ["tsx", "ts", "jsx", "js"]) {
      const file = resolve(SRC, dir.name, `main.${ext}`);
      if (existsSync(file)) {
        entries[dir.name] = file;
        break;
      }
    }
  }
  return entries;
}

export default defineConfig({
  plugins: [react()],
  base: "/static/bundle/",
  logLevel: "warn",
  build: {
    outDir: OUT,
    emptyOutDir: true,
    sourcemap: false,
    target: "es2020",
    chunkSizeWarningLimit: 900,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: pageEntries(),
      output: {
        entryFileNames: "[name].js",
        chunkFileNames: "chunks/[name]-[hash].js",
        assetFileNames: (info) =>
          (info.names?.[0] ?? "").endsWith(".css") ? "[name][extname]" : "assets/[name]-[hash][extname]",
      },
    },
  },
});
