#!/usr/bin/env node
import { run } from './program.js';

// `clientdemo subscribe news | head -1`: a closed stdout ends the program quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

process.exitCode = await run(process.argv);
