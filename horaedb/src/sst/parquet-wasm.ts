/**
 * The parquet-wasm module, loaded so that it can be replaced. A Rust panic inside parquet-wasm
 * surfaces as a WebAssembly trap (`RuntimeError: unreachable`) and leaves that instance unusable:
 * every later call traps too. After a trap we drop the instance and the next call loads a fresh
 * one (the node build is CommonJS, so a new `require` instantiates a new WebAssembly module).
 */
import { createRequire } from "node:module";
import type * as ParquetWasmModule from "parquet-wasm";

export type ParquetWasm = typeof ParquetWasmModule;
/** Instance types of parquet-wasm classes (their constructors are private, so not InstanceType). */
export type WasmTable = ParquetWasm["Table"]["prototype"];
export type WasmWriterProperties = ParquetWasm["WriterProperties"]["prototype"];
export type WasmParquetFile = ParquetWasm["ParquetFile"]["prototype"];

const require = createRequire(import.meta.url);
const MODULE_PATH = require.resolve("parquet-wasm");

let current: ParquetWasm | undefined;
let generation = 0;

/** The live parquet-wasm instance. */
export function parquetWasm(): ParquetWasm {
  if (current === undefined) {
    delete require.cache[MODULE_PATH];
    current = require(MODULE_PATH) as ParquetWasm;
    generation++;
  }
  return current;
}

/** How many instances have been loaded in this thread (1 until the first trap). */
export function parquetWasmGeneration(): number {
  return generation;
}

// The project's TypeScript libs leave out the WebAssembly namespace; Node always has it.
const WasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } })
  .WebAssembly.RuntimeError;

/** A trap of the WebAssembly machine (a Rust panic shows up as `RuntimeError: unreachable`). */
export function isWasmTrap(error: unknown): boolean {
  return error instanceof WasmRuntimeError;
}

/** Drops the instance if `error` is a trap, so the next call gets a working one. */
export function discardOnTrap(error: unknown): void {
  if (isWasmTrap(error)) current = undefined;
}

/** Frees a wasm-owned object, ignoring failures of an instance that already trapped. */
export function freeQuietly(object: { free(): void } | undefined): void {
  if (object === undefined) return;
  try {
    object.free();
  } catch {
    // A trapped instance cannot free; it is garbage as a whole.
  }
}
