// Test stand-in for the RunComfy CLI: the Node half of `runcomfy` (the sh launcher beside it).
// See ../README.md for the scenario, state and log controls.
//
// CommonJS by its extension, so it loads the same way on Node 20, 22 and 24 whatever the
// repository's own "type" says. The real work lives in ES modules that use only node:
// built-ins, so each of the many invocations per test starts fast.
'use strict';

const path = require('node:path');
const { pathToFileURL } = require('node:url');

import(pathToFileURL(path.join(__dirname, '..', 'lib', 'main.mjs')).href)
  .then((main) => main.start())
  .catch((error) => {
    process.stderr.write(`runcomfy-standin: internal error: ${(error && error.stack) || error}\n`);
    process.exit(70);
  });
