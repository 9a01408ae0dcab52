// Test support for this package and the integration tests; not used by production code.
export * from "./object-store-contract.js";
export * from "./tsbs.js";
export * from "./tsbs-queries.js";
