import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { bindGrpcServer, ListenError, shutdownGrpcServer, unimplementedHandlers } from "../src/index.js";
import {
  callBidi,
  callClientStream,
  callServerStream,
  callUnary,
  testClient,
  testServiceDefinition,
} from "./grpc-test-service.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function startServer(implementation: grpc.UntypedServiceImplementation) {
  const server = new grpc.Server();
  server.addService(testServiceDefinition, implementation);
  const port = await bindGrpcServer(server, "127.0.0.1", 0);
  cleanups.push(() => server.forceShutdown());
  const client = testClient(`127.0.0.1:${port}`);
  cleanups.push(() => client.close());
  return { server, port, client };
}

describe("unimplementedHandlers", () => {
  it("answers every kind of method with UNIMPLEMENTED naming the method", async () => {
    const { client } = await startServer(unimplementedHandlers(testServiceDefinition, "test.v1.TestService"));
    const expected = (method: string) => ({
      code: grpc.status.UNIMPLEMENTED,
      details: `test.v1.TestService/${method} is not implemented yet`,
    });
    await expect(callUnary(client)).rejects.toMatchObject(expected("Unary"));
    await expect(callClientStream(client)).rejects.toMatchObject(expected("ClientStream"));
    await expect(callServerStream(client)).resolves.toMatchObject(expected("ServerStream"));
    await expect(callBidi(client)).resolves.toMatchObject(expected("Bidi"));
  });
});

describe("bindGrpcServer", () => {
  it("binds port 0 to a free port and reports it", async () => {
    const { port, client } = await startServer({
      ...unimplementedHandlers(testServiceDefinition, "test.v1.TestService"),
      Unary: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from("pong")),
    });
    expect(port).toBeGreaterThan(0);
    await expect(callUnary(client)).resolves.toEqual(Buffer.from("pong"));
  });

  it("fails with a ListenError saying the address is in use", async () => {
    const { port } = await startServer({});
    const second = new grpc.Server();
    cleanups.push(() => second.forceShutdown());
    // grpc-js also prints the bind failure to stderr; the returned error is what is under test.
    grpc.setLogVerbosity(grpc.logVerbosity.NONE);
    cleanups.push(() => grpc.setLogVerbosity(grpc.logVerbosity.ERROR));
    const error = await bindGrpcServer(second, "127.0.0.1", port).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ListenError);
    expect(error).toMatchObject({
      protocol: "grpc",
      address: `127.0.0.1:${port}`,
      reason: "address already in use",
    });
    expect((error as Error).message).toBe(
      `cannot listen for gRPC on 127.0.0.1:${port}: address already in use`,
    );
  });
});

describe("shutdownGrpcServer", () => {
  it("shuts down gracefully when no call is in flight", async () => {
    const { server, client } = await startServer(
      unimplementedHandlers(testServiceDefinition, "test.v1.TestService"),
    );
    await callUnary(client).catch(() => {});
    await expect(shutdownGrpcServer(server, 5_000)).resolves.toBe("graceful");
  });

  it("cancels calls still running at the deadline", async () => {
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    const { server, client } = await startServer({
      // Never answers, so only a forced shutdown can end the call.
      Unary: () => entered(),
    });
    const call = callUnary(client).catch((error: unknown) => error);
    await handlerEntered;
    await expect(shutdownGrpcServer(server, 100)).resolves.toBe("forced");
    const error = (await call) as grpc.ServiceError;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).not.toBe(grpc.status.OK);
  });
});
