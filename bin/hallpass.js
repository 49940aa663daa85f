#!/usr/bin/env node
// The `hallpass` command: runs the compiled CLI, building it first on a fresh checkout.
require('../scripts/ensure-built.js');
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));
