// Drives rce's Piston v2 compatibility API with npm `piston-client` 1.0.2,
// unmodified. Usage:
//
//     node piston_client.mjs NODE_PREFIX SERVER_URL
//
// NODE_PREFIX holds node_modules/piston-client (installed by the test);
// SERVER_URL may carry the API key as `http://key:KEY@host:port` (the client
// has no header option; Basic auth from the URL is how it authenticates).
// Prints one JSON object with what the client saw.
import { pathToFileURL } from "node:url";
import path from "node:path";

const [prefix, server] = process.argv.slice(2);
const entry = path.join(prefix, "node_modules", "piston-client", "index.js");
const { piston } = await import(pathToFileURL(entry).href);

const client = piston({ server });
const runtimes = await client.runtimes();
const echo = await client.execute(
  "python",
  "import sys\nprint(input()[::-1])\nprint(' '.join(sys.argv[1:]))",
  { stdin: "olleh", args: ["a", "b c"] },
);
const defaults = await client.execute("python", "import sys\nprint(len(sys.argv) - 1)");
const compiled = await client.execute(
  "c",
  '#include <stdio.h>\nint main(void) { puts("from c"); return 3; }\n',
);
console.log(JSON.stringify({ runtimes, echo, defaults, compiled }));
