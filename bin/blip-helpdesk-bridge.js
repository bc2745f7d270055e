#!/usr/bin/env node
'use strict';
// The package's executable: the compiled CLI in dist/ (src/cli/index.ts). `npm pack` builds dist/ (prepack); in a
// checkout, `npm run build` does.
const { existsSync } = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, '..', 'dist', 'cli', 'index.js');
if (!existsSync(compiled)) {
  process.stderr.write(
    `blip-helpdesk-bridge: ${path.relative(process.cwd(), compiled) || compiled} is missing. In a checkout, build ` +
      'first: npm ci && npm run build (then npm prune --omit=dev for production). See README.md, "Deploy".\n',
  );
  process.exit(1);
}
require(compiled)
  .runCli(process.argv.slice(2))
  .then((code) => {
    if (code !== undefined) process.exitCode = code;
  });
