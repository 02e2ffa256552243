// Bundles src/main.mjs and src/post.mjs into ../dist/ (or the directory given as argument).
// The bundle is committed; a test rebuilds it and fails when dist/ is stale.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] || path.join(here, '..', 'dist'));

// Chunk names change with their content: drop the old ones so dist/ holds only this build.
fs.mkdirSync(outdir, { recursive: true });
for (const f of fs.readdirSync(outdir)) {
  if (/^shared-.*\.mjs$/.test(f)) fs.rmSync(path.join(outdir, f));
}

await esbuild.build({
  entryPoints: { main: path.join(here, 'src/main.mjs'), post: path.join(here, 'src/post.mjs') },
  outdir,
  outExtension: { '.js': '.mjs' },
  absWorkingDir: here,
  bundle: true,
  splitting: true,
  chunkNames: 'shared-[hash]',
  platform: 'node',
  target: 'node20',
  format: 'esm',
  charset: 'utf8',
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies call require() for Node built-ins; give the ESM bundle one.
  banner: { js: "import { createRequire as __gcc_createRequire } from 'node:module'; const require = __gcc_createRequire(import.meta.url);" },
});
