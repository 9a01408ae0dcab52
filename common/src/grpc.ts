import * as grpc from "@grpc/grpc-js";
import { formatHostPort } from "./address.js";
import { ListenError } from "./listen-error.js";

/** Binds a gRPC server on host:port (port 0 picks a free port) and returns the bound port. */
export function bindGrpcServer(
  server: grpc.Server,
  host: string,
  port: number,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<number> {
  const address = formatHostPort(host, port);
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, boundPort) => {
      if (error) reject(new ListenError("grpc", address, error));
      else resolve(boundPort);
    });
  });
}

/**
 * Stops accepting calls and waits for in-flight calls to finish; calls still running after
 * `timeoutMs` are cancelled. Resolves to whether the shutdown had to be forced.
 */
export function shutdownGrpcServer(server: grpc.Server, timeoutMs: number): Promise<"graceful" | "forced"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve("forced");
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve("graceful");
    });
  });
}

/** The status message of a method that has no implementation yet. */
export function unimplementedMessage(serviceName: string, methodName: string): string {
  return `${serviceName}/${methodName} is not implemented yet`;
}

/**
 * Handlers for every method of a service that answer status UNIMPLEMENTED with a message naming the
 * method, e.g. `horaedb.storage.v1.StorageService/Write is not implemented yet`. Spread real
 * handlers over the result as methods get implemented.
 */
export function unimplementedHandlers(
  definition: grpc.ServiceDefinition,
  serviceName: string,
): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [methodName, method] of Object.entries(definition)) {
    const status: Partial<grpc.StatusObject> = {
      code: grpc.status.UNIMPLEMENTED,
      details: unimplementedMessage(serviceName, methodName),
    };
    if (method.responseStream) {
      // Server-streaming and bidi calls end with a status by emitting it as an error.
      handlers[methodName] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.emit("error", status);
      };
    } else {
      handlers[methodName] = (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        callback(status, null);
      };
    }
  }
  return handlers;
}
