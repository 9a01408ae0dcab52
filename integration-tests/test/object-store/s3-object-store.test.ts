import { randomBytes, randomUUID } from "node:crypto";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectStoreOperationError,
  S3ObjectStore,
  type S3ObjectStoreOptions,
} from "@horaedb/horaedb/object-store";
import { objectStoreContract } from "@horaedb/horaedb/testing";
import { s3ClientConfig } from "../../src/services/s3-client.js";

const { s3 } = inject("services");
const MiB = 1024 * 1024;

/** A store over the test bucket under a root prefix of its own. */
function newStore(options: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  return new S3ObjectStore({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: s3.forcePathStyle,
    root: `object-store-test/${randomUUID()}`,
    // Small list pages, so paging with continuation tokens is exercised without thousands of objects.
    listPageSize: 50,
    // Parts as small as S3 allows, so the contract's 12 MiB objects go up in three parts.
    multipartThresholdBytes: 5 * MiB,
    partSizeBytes: 5 * MiB,
    ...options,
  });
}

/** Deletes everything under the store's root (the services may outlive this run) and closes it. */
async function emptyAndClose(store: S3ObjectStore): Promise<void> {
  try {
    const keys: string[] = [];
    for await (const meta of store.list("")) keys.push(meta.key);
    for (let i = 0; i < keys.length; i += 32)
      await Promise.all(keys.slice(i, i + 32).map((key) => store.delete(key)));
  } finally {
    await store.close();
  }
}

// s3proxy 2.6 ignores If-None-Match: * (see "does not enforce ifNotExists" below), so the contract's
// assertions that an existing object is kept are skipped; the mapping of S3's 412 answer to
// ObjectExistsError is checked against a proxy that answers 412 further down.
objectStoreContract(
  "S3ObjectStore (s3proxy)",
  () => {
    const store = newStore();
    return Promise.resolve({ store, cleanup: () => emptyAndClose(store) });
  },
  { enforcesIfNotExists: false, manyObjects: 230 },
);

interface ProxiedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** The decoded path: `/<bucket>/<root><key>`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface ProxyAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Wait this long before answering. */
  delayMs?: number;
}

/**
 * An HTTP proxy in front of s3proxy that records requests and lets a test answer some of them
 * itself (a fault) instead of forwarding them. The SDK signs the Host header, which the proxy
 * passes on unchanged, so s3proxy still accepts forwarded requests.
 */
class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private server: Server | undefined;

  constructor(
    private readonly intercept: (
      request: ProxiedRequest,
      forward: () => Promise<ProxyAnswer>,
    ) => Promise<ProxyAnswer | undefined>,
  ) {}

  async start(): Promise<string> {
    const upstream = new URL(s3.endpoint);
    this.server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const url = new URL(incoming.url ?? "/", "http://proxy");
        const proxied: ProxiedRequest = {
          method: incoming.method ?? "GET",
          url: incoming.url ?? "/",
          path: decodeURIComponent(url.pathname),
          query: url.searchParams,
          headers: incoming.headers,
          body: Buffer.concat(chunks),
        };
        this.requests.push(proxied);
        const forward = () => forwardTo(upstream, proxied);
        void this.intercept(proxied, forward)
          .then(async (answer) => {
            const reply = answer ?? (await forward());
            if (reply.delayMs !== undefined)
              await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
            if (outgoing.destroyed) return;
            outgoing.writeHead(reply.status, reply.headers);
            outgoing.end(reply.body);
          })
          .catch((error: unknown) => {
            outgoing.writeHead(599);
            outgoing.end(String(error));
          });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** The recorded requests with this method, for keys ending in `keySuffix`, with this query parameter. */
  matching(method: string, keySuffix: string, queryParameter?: string): ProxiedRequest[] {
    return this.requests.filter(
      (request) =>
        request.method === method &&
        request.path.endsWith(keySuffix) &&
        (queryParameter === undefined || request.query.has(queryParameter)),
    );
  }
}

function forwardTo(upstream: URL, proxied: ProxiedRequest): Promise<ProxyAnswer> {
  // The body is already complete; the server must not wait for a 100 Continue exchange.
  const { expect: _expect, ...headers } = proxied.headers;
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: proxied.method, path: proxied.url, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const answerHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value === undefined || name === "transfer-encoding" || name === "connection") continue;
            answerHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
          }
          resolve({
            status: response.statusCode ?? 502,
            headers: answerHeaders,
            body: Buffer.concat(chunks),
          });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(proxied.body);
  });
}

function s3Error(status: number, code: string): ProxyAnswer {
  return {
    status,
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
  };
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

describe("S3ObjectStore against s3proxy", () => {
  const stores: S3ObjectStore[] = [];
  const proxies: FaultProxy[] = [];
  const rawClient = new S3Client(s3ClientConfig(s3));
  const open = (options: Partial<S3ObjectStoreOptions> = {}) => {
    const store = newStore(options);
    stores.push(store);
    return store;
  };
  const openProxied = async (
    intercept: ConstructorParameters<typeof FaultProxy>[0],
    options: Partial<S3ObjectStoreOptions> = {},
  ) => {
    const proxy = new FaultProxy(intercept);
    proxies.push(proxy);
    const store = open({ endpoint: await proxy.start(), ...options });
    return { proxy, store };
  };

  afterAll(async () => {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    // Emptied directly: a store's own endpoint may be a stopped proxy.
    await Promise.all(stores.map((store) => emptyAndClose(open({ root: store.root }))));
    rawClient.destroy();
  });

  it("does not enforce ifNotExists (s3proxy 2.6 ignores If-None-Match: *): the object is overwritten", async () => {
    const store = open();
    await store.put("conditional", bytes("first"), { ifNotExists: true });
    await store.put("conditional", bytes("second"), { ifNotExists: true });
    // Against AWS S3 the second put fails with ObjectExistsError (a 412 answer, see below).
    expect(text(await store.get("conditional"))).toBe("second");
  });

  it("keeps every key under its root prefix and lists keys relative to it", async () => {
    const store = open({ root: `/object-store-test/${randomUUID()}/nested/` });
    expect(store.root).toMatch(/^object-store-test\/[0-9a-f-]+\/nested\/$/);
    await store.put("a/b", bytes("x"));
    const sibling = open({ root: store.root.replace(/nested\/$/, "other") });
    expect(await sibling.head("a/b")).toBeUndefined();
    const listed: string[] = [];
    for await (const meta of store.list("a/")) listed.push(meta.key);
    expect(listed).toEqual(["a/b"]);
  });

  it("pages through a listing with continuation tokens", async () => {
    const { proxy, store } = await openProxied(() => Promise.resolve(undefined), { listPageSize: 3 });
    const keys = Array.from({ length: 10 }, (_, i) => `paged/${String(i).padStart(2, "0")}`);
    await Promise.all(keys.map((key) => store.put(key, bytes(key))));
    const listed: string[] = [];
    for await (const meta of store.list("paged/")) listed.push(meta.key);
    expect(listed).toEqual(keys);
    const lists = proxy.matching("GET", "", "list-type");
    expect(lists).toHaveLength(4);
    expect(lists.filter((request) => request.query.has("continuation-token"))).toHaveLength(3);
  });

  it("asks for explicit byte ranges: bytes=start-(end-1)", async () => {
    const { proxy, store } = await openProxied(() => Promise.resolve(undefined));
    await store.put("ranged", bytes("0123456789"));
    expect(text(await store.getRange("ranged", 3, 7))).toBe("3456");
    expect(proxy.matching("GET", "/ranged").map((request) => request.headers.range)).toEqual(["bytes=3-6"]);
  });

  it("uploads an object above the threshold in parts of the configured size", async () => {
    const { proxy, store } = await openProxied(() => Promise.resolve(undefined));
    const data = randomBytes(11 * MiB);
    await store.put("multipart", data);
    const parts = proxy.matching("PUT", "/multipart", "partNumber");
    expect(parts.map((part) => part.body.length).sort((a, b) => b - a)).toEqual([5 * MiB, 5 * MiB, 1 * MiB]);
    expect(Buffer.from(await store.get("multipart")).equals(data)).toBe(true);
  });

  it("aborts a multipart upload whose part fails, leaving no object and no upload", async () => {
    const { proxy, store } = await openProxied(
      (request) =>
        Promise.resolve(request.query.get("partNumber") === "2" ? s3Error(500, "InternalError") : undefined),
      { maxAttempts: 1 },
    );
    const error = await store.put("aborted", randomBytes(11 * MiB)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ObjectStoreOperationError);
    expect(proxy.matching("DELETE", "/aborted", "uploadId")).toHaveLength(1);
    expect(await store.head("aborted")).toBeUndefined();
    const uploads = await rawClient.send(
      new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${store.root}aborted` }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it("retries a failed request with backoff up to maxAttempts", async () => {
    let failures = 2;
    const intercept = (request: ProxiedRequest) =>
      Promise.resolve(
        request.method === "GET" && request.path.endsWith("/retried") && failures-- > 0
          ? s3Error(503, "SlowDown")
          : undefined,
      );
    const { proxy, store } = await openProxied(intercept, { maxAttempts: 3 });
    await store.put("retried", bytes("eventually"));
    expect(text(await store.get("retried"))).toBe("eventually");
    expect(proxy.matching("GET", "/retried")).toHaveLength(3);

    failures = 2;
    const { store: impatient } = await openProxied(intercept, { maxAttempts: 2, root: store.root });
    await expect(impatient.get("retried")).rejects.toBeInstanceOf(ObjectStoreOperationError);
  });

  it("fails a request that exceeds requestTimeoutMs", async () => {
    const { store } = await openProxied(
      async (request, forward) =>
        request.method === "GET" ? { ...(await forward()), delayMs: 3_000 } : undefined,
      { requestTimeoutMs: 300, maxAttempts: 1 },
    );
    await store.put("slow", bytes("slow"));
    const started = Date.now();
    const error = await store.get("slow").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ObjectStoreOperationError);
    expect(((error as Error).cause as Error).name).toBe("TimeoutError");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("maps S3's 412 answer to a conditional put to ObjectExistsError", async () => {
    const { store } = await openProxied((request) =>
      Promise.resolve(
        request.headers["if-none-match"] === "*" ? s3Error(412, "PreconditionFailed") : undefined,
      ),
    );
    await store.put("exists", bytes("original"));
    await expect(store.put("exists", bytes("other"), { ifNotExists: true })).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
    await expect(store.put("large", randomBytes(6 * MiB), { ifNotExists: true })).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
  });

  it("treats 412 on a retried conditional put as success only if the object holds the bytes put", async () => {
    // The first conditional PUT of a key fails with 500, after reaching S3 (key "ambiguous": its
    // answer was lost) or not (key "taken"); the SDK's retry then gets 412, as from AWS S3.
    const conditionalPuts = new Map<string, number>();
    const { store } = await openProxied(async (request, forward) => {
      if (request.method !== "PUT" || request.headers["if-none-match"] !== "*") return undefined;
      const seen = conditionalPuts.get(request.path) ?? 0;
      conditionalPuts.set(request.path, seen + 1);
      if (seen > 0) return s3Error(412, "PreconditionFailed");
      if (request.path.endsWith("/ambiguous")) await forward();
      return s3Error(500, "InternalError");
    });
    await store.put("ambiguous", bytes("mine"), { ifNotExists: true });
    expect(text(await store.get("ambiguous"))).toBe("mine");

    await store.put("taken", bytes("theirs"));
    await expect(store.put("taken", bytes("mine"), { ifNotExists: true })).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
    expect(text(await store.get("taken"))).toBe("theirs");
    expect(conditionalPuts.get(`/${s3.bucket}/${store.root}taken`)).toBe(2);
  });

  it("maps a missing key to ObjectNotFoundError and a missing bucket to ObjectStoreOperationError", async () => {
    const store = open();
    await expect(store.get("absent")).rejects.toBeInstanceOf(ObjectNotFoundError);
    const noBucket = open({ bucket: `missing-${randomUUID()}` });
    const error = await noBucket.get("absent").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ObjectStoreOperationError);
    await expect(noBucket.put("k", bytes("v"))).rejects.toBeInstanceOf(ObjectStoreOperationError);
  });

  it("works against s3proxy with the SDK's default checksums on byte-array bodies", async () => {
    const store = open({ checksums: "when-supported" });
    const data = randomBytes(6 * MiB);
    await store.put("checksummed", bytes("small"));
    await store.put("checksummed-large", data);
    expect(text(await store.get("checksummed"))).toBe("small");
    expect(Buffer.from(await store.get("checksummed-large")).equals(data)).toBe(true);
  });
});
