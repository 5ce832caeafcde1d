// rce's preloaded launcher for Node.js (images/preload/README.md). rce-runner
// starts `node --require /opt/rce/preload/node.js main.js` in a warm container
// before any job: node boots (the slow part, ~120 ms without a startup
// snapshot), loads this module, and blocks here reading the go signal on
// descriptor 3 (a big-endian u32 length, then the job's argv, each argument
// NUL-terminated). Then the
// program's argv replaces process.argv and node goes on exactly as for
// `node main.js args…`: it runs process.argv[1] as the main module (CommonJS
// or ESM, require.main, stack traces all as usual).
'use strict';
const { isMainThread } = require('worker_threads');

// Exactly `length` bytes from descriptor 3 (fewer only at EOF).
function readExactly(fs, length) {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    let n;
    try {
      n = fs.readSync(3, buffer, filled, length - filled, null);
    } catch (error) {
      if (error.code === 'EAGAIN' || error.code === 'EINTR') continue;
      throw error;
    }
    if (n === 0) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

function readGoSignal(fs) {
  const header = readExactly(fs, 4);
  const argv = header.length === 4 ? readExactly(fs, header.readUInt32BE(0)) : Buffer.alloc(0);
  fs.closeSync(3);
  return argv.toString('utf8');
}

// Only the process rce-runner started: a Worker or a forked child does not
// wait again (and fork's own descriptor 3 is its IPC channel).
if (isMainThread && process.execArgv.includes('/opt/rce/preload/node.js')) {
  const fs = require('fs');
  const path = require('path');
  const argv = readGoSignal(fs).split('\0');
  argv.pop();
  if (argv.length < 2) process.exit(0); // no job for this launcher
  // As node itself: argv[1] made absolute, the rest as given.
  process.argv = [process.execPath, path.resolve(argv[1]), ...argv.slice(2)];
  // Plain `node main.js` has no execArgv; children forked from the program
  // must not load this module either.
  process.execArgv = [];
}
