/** A server could not start listening; the message names the protocol, the address and why. */
export class ListenError extends Error {
  override readonly name = "ListenError";
  readonly protocol: "grpc" | "http";
  readonly address: string;
  readonly reason: string;

  constructor(protocol: "grpc" | "http", address: string, cause: unknown) {
    const reason = describeListenFailure(cause);
    super(`cannot listen for ${protocol === "grpc" ? "gRPC" : "HTTP"} on ${address}: ${reason}`, { cause });
    this.protocol = protocol;
    this.address = address;
    this.reason = reason;
  }
}

function describeListenFailure(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  // grpc-js folds the socket error into a longer message, so match on the text rather than `code`.
  if (message.includes("EADDRINUSE")) return "address already in use";
  if (message.includes("EACCES")) return "permission denied";
  if (message.includes("EADDRNOTAVAIL")) return "address not available on this host";
  return message;
}
