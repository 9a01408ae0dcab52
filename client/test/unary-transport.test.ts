import { spawn } from "node:child_process";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { grpcTimeout, Http2UnaryTransport, UnaryCallError } from "../src/unary-transport.js";

/** A service whose messages are raw bytes, so each test controls exactly what goes over the wire. */
const bytes = (b: Buffer): Buffer => b;
const method = (name: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/test.Raw/${name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});
const service = { Echo: method("Echo"), Fail: method("Fail"), Hang: method("Hang"), Big: method("Big") };

const OPTIONS = { flowControlWindowBytes: 1 << 20, maxReceiveMessageBytes: 1 << 16, maxSendMessageBytes: -1 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface RawServer {
  readonly server: grpc.Server;
  readonly port: number;
  /** Deadlines the Hang handler saw, and whether its call was then cancelled. */
  readonly hung: Array<{ deadline: number; cancelled: Promise<void> }>;
}

async function startServer(port = 0): Promise<RawServer> {
  const server = new grpc.Server();
  const hung: RawServer["hung"] = [];
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, Buffer.concat([Buffer.from("echo:"), call.request])),
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback({ code: grpc.status.FAILED_PRECONDITION, details: "table «cpu» 100% full\nsecond line" }),
    Hang: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
      hung.push({
        deadline: Number(call.getDeadline()),
        cancelled: new Promise((resolve) => call.once("cancelled", () => resolve())),
      });
    },
    Big: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, Buffer.alloc((1 << 16) + 1)),
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  cleanups.push(() => {
    server.forceShutdown();
  });
  return { server, port: bound, hung };
}

function transportTo(port: number, options = OPTIONS): Http2UnaryTransport {
  const transport = new Http2UnaryTransport(`127.0.0.1:${port}`, options);
  cleanups.push(() => transport.close());
  return transport;
}

async function failure(call: Promise<unknown>): Promise<UnaryCallError> {
  const error: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnaryCallError);
  return error as UnaryCallError;
}

const soon = () => Date.now() + 5_000;

describe("Http2UnaryTransport", () => {
  it("sends a request to a grpc-js server and returns its response message", async () => {
    const { port } = await startServer();
    const transport = transportTo(port);
    const response = await transport.call(service.Echo.path, Buffer.from("hello"), soon());
    expect(response.toString()).toBe("echo:hello");
    // Calls share the session, including ones in flight together.
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) => transport.call(service.Echo.path, Buffer.from(`${i}`), soon())),
    );
    expect(many.map((b) => b.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `echo:${i}`));
  });

  it("places a response so that the byte the alignment names lies at a multiple of 8", async () => {
    const { port } = await startServer();
    const transport = transportTo(port);
    // 40 KB arrives in several chunks; 20 bytes in one.
    for (const size of [20, 40_000]) {
      const request = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
      const expected = Buffer.concat([Buffer.from("echo:"), request]);
      for (let offset = 0; offset < 8; offset++) {
        const seen: Uint8Array[] = [];
        const alignment = { prefixBytes: 16, offset: (prefix: Uint8Array) => (seen.push(prefix), offset) };
        const response = await transport.call(service.Echo.path, request, soon(), alignment);
        expect(response.equals(expected)).toBe(true);
        expect((response.byteOffset + offset) % 8).toBe(0);
        expect(Buffer.from(seen[0] ?? []).equals(expected.subarray(0, 16))).toBe(true);
      }
      const unplaced = await transport.call(service.Echo.path, request, soon(), {
        prefixBytes: 16,
        offset: () => undefined,
      });
      expect(unplaced.equals(expected)).toBe(true);
    }
  });

  it("reports the server's status code and its percent-decoded message", async () => {
    const { port } = await startServer();
    const error = await failure(transportTo(port).call(service.Fail.path, Buffer.alloc(0), soon()));
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.details).toBe("table «cpu» 100% full\nsecond line");
  });

  it("reports an unknown method as UNIMPLEMENTED", async () => {
    const { port } = await startServer();
    const error = await failure(transportTo(port).call("/test.Raw/Nope", Buffer.alloc(0), soon()));
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("ends a call at its deadline with DEADLINE_EXCEEDED, and tells the server its deadline", async () => {
    const { port, hung } = await startServer();
    const started = Date.now();
    const error = await failure(transportTo(port).call(service.Hang.path, Buffer.alloc(0), started + 300));
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The server got grpc-timeout (its deadline is about ours) and sees the call end.
    expect(hung).toHaveLength(1);
    expect(Math.abs((hung[0] as RawServer["hung"][number]).deadline - (started + 300))).toBeLessThan(200);
    await (hung[0] as RawServer["hung"][number]).cancelled;
  });

  it("refuses a call whose deadline has passed without sending it", async () => {
    const { port, hung } = await startServer();
    const error = await failure(transportTo(port).call(service.Hang.path, Buffer.alloc(0), Date.now() - 1));
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(hung).toHaveLength(0);
  });

  it("rejects a response over the receive limit with RESOURCE_EXHAUSTED, and a request over the send limit", async () => {
    const { port } = await startServer();
    const big = await failure(transportTo(port).call(service.Big.path, Buffer.alloc(0), soon()));
    expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big.details).toMatch(/larger than max/);
    const limited = transportTo(port, { ...OPTIONS, maxSendMessageBytes: 10 });
    const sent = await failure(limited.call(service.Echo.path, Buffer.alloc(11), soon()));
    expect(sent.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await limited.call(service.Echo.path, Buffer.alloc(10), soon())).byteLength).toBe(15);
  });

  it("reports a refused connection as UNAVAILABLE, then connects once the server is up", async () => {
    const probe = await startServer();
    const port = probe.port;
    probe.server.forceShutdown();
    const transport = transportTo(port);
    const refused = await failure(transport.call(service.Echo.path, Buffer.from("x"), soon()));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    await startServer(port);
    expect((await transport.call(service.Echo.path, Buffer.from("x"), soon())).toString()).toBe("echo:x");
  });

  it("fails a call in flight with UNAVAILABLE when the server goes away, and reconnects after a restart", async () => {
    const first = await startServer();
    const transport = transportTo(first.port);
    expect((await transport.call(service.Echo.path, Buffer.from("a"), soon())).toString()).toBe("echo:a");
    const hanging = transport.call(service.Hang.path, Buffer.alloc(0), soon());
    while (first.hung.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    first.server.forceShutdown();
    const dropped = await failure(hanging);
    expect(dropped.code).toBe(grpc.status.UNAVAILABLE);
    await startServer(first.port);
    expect((await transport.call(service.Echo.path, Buffer.from("b"), soon())).toString()).toBe("echo:b");
  });

  it("maps an HTTP error status from a non-gRPC server as gRPC does", async () => {
    const server = http2.createServer();
    server.on("stream", (stream, headers) => {
      stream.respond({ ":status": headers[":path"] === "/busy" ? 503 : 404 });
      stream.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const transport = transportTo(port);
    expect((await failure(transport.call("/busy", Buffer.alloc(0), soon()))).code).toBe(
      grpc.status.UNAVAILABLE,
    );
    expect((await failure(transport.call("/other", Buffer.alloc(0), soon()))).code).toBe(
      grpc.status.UNIMPLEMENTED,
    );
  });

  it("does not keep the process alive once its calls are done", async () => {
    const { port } = await startServer();
    // The built module: the child runs plain Node (the test command builds before testing).
    const module = fileURLToPath(new URL("../dist/src/unary-transport.js", import.meta.url));
    // A child makes a call and never closes the transport: it must still exit on its own.
    const script = `
      const { Http2UnaryTransport } = await import(${JSON.stringify(module)});
      const t = new Http2UnaryTransport("127.0.0.1:${port}", ${JSON.stringify(OPTIONS)});
      const r = await t.call("${service.Echo.path}", Buffer.from("z"), Date.now() + 5000);
      console.log(r.toString());
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("the process did not exit"));
      }, 10_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(output.trim()).toBe("echo:z");
    expect(code).toBe(0);
  });
});

describe("grpcTimeout", () => {
  it("writes milliseconds, or seconds beyond eight digits", () => {
    expect(grpcTimeout(1)).toBe("1m");
    expect(grpcTimeout(99_999_999)).toBe("99999999m");
    expect(grpcTimeout(100_000_000)).toBe("100000S");
  });
});
