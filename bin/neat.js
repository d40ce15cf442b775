#!/usr/bin/env node
'use strict';
// The CLI is compiled by `npm ci` (the prepare script); this shim only locates it.
// A closed pipe (`neat … | head`) ends the output, not the process with a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
// Exits once the command is done: a stopped service may still hold a timer or a
// connection it abandoned (a Nova call in flight), which must not keep it running.
require('../dist/src/cli.js').main(process.argv.slice(2)).then(
  (code) => { process.exit(code); },
  (error) => { console.error(error instanceof Error ? error.stack : error); process.exitCode = 1; },
);
