import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A file every valid proto root contains; used to recognise the directory. */
const MARKER = "horaedb/common/v1/common.proto";

/** Thrown when the package's `protos/` directory cannot be found next to this module. */
export class ProtoRootNotFoundError extends Error {
  override readonly name = "ProtoRootNotFoundError";

  constructor(readonly searched: readonly string[]) {
    super(`cannot find the proto directory (looked for ${MARKER} under ${searched.join(", ")})`);
  }
}

function resolveProtoRoot(): string {
  // This module runs from `src/` (tests, tooling) or from `dist/src/` (built package); `protos/` sits at
  // the package root in both cases.
  const candidates = ["../protos", "../../protos"].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  const found = candidates.find((dir) => existsSync(`${dir}/${MARKER}`));
  if (found === undefined) throw new ProtoRootNotFoundError(candidates);
  return found;
}

/** Absolute path of the package's `protos/` directory, the include root of every .proto file. */
export const PROTO_ROOT: string = resolveProtoRoot();
