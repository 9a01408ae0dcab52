/**
 * Node.js flags the server is meant to run with: `npm start`, the `horaedb` bin (its shebang, which
 * needs `env -S`) and the TSBS benchmark pass them; whoever starts `main.js` with `node` directly
 * should too.
 *
 * --max-semi-space-size=32 (MiB): a query allocates a few hundred KiB of short-lived objects (its
 * batches, result buffers, call state). With V8's default 16 MiB semi-space the young generation is
 * collected every few dozen queries, and each collection costs more or less the same whatever was
 * allocated; twice the space halves their number. The young generation may take 96 MiB at most.
 */
export const SERVER_NODE_FLAGS: readonly string[] = Object.freeze(["--max-semi-space-size=32"]);
