import * as grpc from "@grpc/grpc-js";

const identity = (value: Buffer) => value;

function method(
  name: string,
  requestStream: boolean,
  responseStream: boolean,
): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/test.v1.TestService/${name}`,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** A service with one method of each streaming kind, carrying raw bytes so no .proto is needed. */
export const testServiceDefinition = {
  Unary: method("Unary", false, false),
  ClientStream: method("ClientStream", true, false),
  ServerStream: method("ServerStream", false, true),
  Bidi: method("Bidi", true, true),
} satisfies grpc.ServiceDefinition;

export function testClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure());
}

export function callUnary(client: grpc.Client, name: keyof typeof testServiceDefinition = "Unary") {
  const { path } = testServiceDefinition[name];
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(path, identity, identity, Buffer.from("ping"), (error, value) => {
      if (error) reject(error);
      else resolve(value ?? Buffer.alloc(0));
    });
  });
}

export function callClientStream(client: grpc.Client) {
  const { path } = testServiceDefinition.ClientStream;
  return new Promise<Buffer>((resolve, reject) => {
    const call = client.makeClientStreamRequest(path, identity, identity, (error, value) => {
      if (error) reject(error);
      else resolve(value ?? Buffer.alloc(0));
    });
    call.write(Buffer.from("ping"));
    call.end();
  });
}

/** Resolves with the status a streaming-response call ends with. */
export function streamStatus(
  call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>,
) {
  return new Promise<grpc.StatusObject>((resolve) => {
    call.on("data", () => {});
    call.on("error", () => {});
    call.on("status", resolve);
  });
}

export function callServerStream(client: grpc.Client) {
  const { path } = testServiceDefinition.ServerStream;
  return streamStatus(client.makeServerStreamRequest(path, identity, identity, Buffer.from("ping")));
}

export function callBidi(client: grpc.Client) {
  const { path } = testServiceDefinition.Bidi;
  const call = client.makeBidiStreamRequest(path, identity, identity);
  call.write(Buffer.from("ping"));
  call.end();
  return streamStatus(call);
}
