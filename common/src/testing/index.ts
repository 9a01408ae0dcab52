// Test support shared by the server packages' tests; not used by production code.
export * from "./server-process.js";
