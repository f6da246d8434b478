// Builds a project with OUR fixed Vite configuration. The builder runs this file with node from outside the
// project: the project's own vite.config.* is never loaded (configFile: false), so untrusted project code
// cannot run inside the build's config phase. Vite and its plugins are resolved from the project's
// node_modules (installed with --ignore-scripts) so the output matches what the project would deploy.
//
// Usage: node vite_build.mjs <projectRoot> <outDir> <cacheDir>
// On failure it prints one line "MM_PREVIEW_ERROR <json>" that the Python side parses into problems.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [root, outDir, cacheDir] = process.argv.slice(2);
const requireFromProject = createRequire(path.join(root, "package.json"));

async function importFromProject(name) {
  let resolved;
  try {
    resolved = requireFromProject.resolve(name);
  } catch {
    return null; // an optional plugin the project does not use
  }
  return import(pathToFileURL(resolved).href);
}

function describe(error) {
  const loc = error?.loc ?? null;
  return {
    message: String(error?.message ?? error),
    id: error?.id ?? loc?.file ?? null,
    line: loc?.line ?? null,
    column: loc?.column ?? null,
    frame: error?.frame ?? null,
    plugin: error?.plugin ?? null,
    errors: Array.isArray(error?.errors) ? error.errors.map(describe) : [],
  };
}

try {
  const vite = await importFromProject("vite");
  if (vite === null) throw new Error("vite is not installed in the project's node_modules");
  const plugins = [];
  const react = await importFromProject("@vitejs/plugin-react");
  if (react !== null) plugins.push(react.default());
  const tailwind = await importFromProject("@tailwindcss/vite");
  if (tailwind !== null) plugins.push(tailwind.default());
  await vite.build({
    configFile: false,
    root,
    base: "/",
    mode: "production",
    cacheDir,
    plugins,
    // An empty inline PostCSS config stops Vite from searching for (and loading) a project postcss.config.js.
    css: { postcss: {} },
    logLevel: "info",
    clearScreen: false,
    build: { outDir, emptyOutDir: true },
  });
} catch (error) {
  process.stdout.write(`MM_PREVIEW_ERROR ${JSON.stringify(describe(error))}\n`);
  process.exitCode = 1;
}
