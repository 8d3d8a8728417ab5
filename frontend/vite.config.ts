// One entry per page: every `src/<page>/main.(ts|tsx|js|jsx)` becomes `static/bundle/<page>.js`
// (and `<page>.css` when it imports CSS). Shared code and lazily loaded parts go to
// `static/bundle/chunks/` under content-hashed names, so a build is byte-for-byte repeatable.
import { readdirSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
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

// Each page keeps one stylesheet, `<page>.css`, even when it shares CSS-importing modules (the
// canvas) with another page: Rollup puts shared CSS in a chunk stylesheet that nothing loads
// for a static import, so the CSS of every statically imported chunk is prepended to the page's.
function pageStylesheets(): Plugin {
  return {
    name: "page-stylesheets",
    apply: "build",
    generateBundle(_options, bundle) {
      const chunks = Object.values(bundle).filter((c) => c.type === "chunk") as any[];
      const byFile = Object.fromEntries(chunks.map((c) => [c.fileName, c]));
      const cssOf = (name: string) => {
        const asset = bundle[name] as any;
        return asset && asset.type === "asset" ? String(asset.source) : "";
      };
      for (const entry of chunks.filter((c) => c.isEntry)) {
        const own = `${entry.name}.css`;
        const seen = new Set<string>();
        const shared: string[] = [];
        const visit = (chunk: any) => {
          if (!chunk || seen.has(chunk.fileName)) return;
          seen.add(chunk.fileName);
          for (const imported of chunk.imports ?? []) visit(byFile[imported]);
          if (chunk !== entry) for (const css of chunk.viteMetadata?.importedCss ?? []) if (!shared.includes(css)) shared.push(css);
        };
        visit(entry);
        const extra = shared.filter((css) => css !== own).map(cssOf).join("\n");
        if (!extra) continue;
        const current = bundle[own] as any;
        if (current && current.type === "asset") current.source = `${extra}\n${String(current.source)}`;
        else this.emitFile({ type: "asset", fileName: own, source: extra });
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), pageStylesheets()],
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
        // The canvas (and its stylesheet) is shared by several pages: one named chunk, so its
        // CSS is always `static/bundle/canvas.css`, which each page using it links.
        manualChunks: (id) => (id.includes("/src/canvas/") ? "canvas" : undefined),
        entryFileNames: "[name].js",
        chunkFileNames: "chunks/[name]-[hash].js",
        assetFileNames: (info) =>
          (info.names?.[0] ?? "").endsWith(".css") ? "[name][extname]" : "assets/[name]-[hash][extname]",
      },
    },
  },
});
