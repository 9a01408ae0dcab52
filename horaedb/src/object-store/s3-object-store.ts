import { setTimeout as sleep } from "node:timers/promises";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
  type GetObjectCommandOutput,
} from "@aws-sdk/client-s3";
import { clampedRangeLength, validateRangeBounds } from "./byte-range.js";
import {
  InvalidObjectKeyError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectStoreError,
  ObjectStoreOperationError,
} from "./errors.js";
import { validateListPrefix, validateObjectKey } from "./object-key.js";
import type { ObjectMeta, ObjectStore, PutOptions } from "./object-store.js";

const MiB = 1024 * 1024;
/** S3's smallest part (except the last) and largest part count of a multipart upload. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PARTS = 10_000;

export interface S3ObjectStoreOptions {
  /** Any S3-compatible endpoint URL, e.g. `http://127.0.0.1:9000`; omit for AWS S3 itself. */
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  /** Static credentials; omitted, the SDK's default chain (environment, profile, IMDS) is used. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (default false). */
  readonly forcePathStyle?: boolean;
  /** Prefix of every key in the bucket, e.g. `horaedb` (default: none); a trailing `/` is implied. */
  readonly root?: string;
  /** Time to establish a connection, in ms (default 5,000). */
  readonly connectionTimeoutMs?: number;
  /**
   * Time from sending a request until its response starts, and the longest a connection may stay
   * idle while sending or receiving, in ms (default 30,000). A request that exceeds it fails and is
   * retried like any other transient error.
   */
  readonly requestTimeoutMs?: number;
  /** Attempts per request, with the SDK's standard exponential backoff between them (default 3). */
  readonly maxAttempts?: number;
  /** Objects larger than this are uploaded in parts (default 16 MiB). */
  readonly multipartThresholdBytes?: number;
  /** Size of each part but the last (default 8 MiB, at least 5 MiB). */
  readonly partSizeBytes?: number;
  /** Parts uploaded at once (default 4). */
  readonly multipartConcurrency?: number;
  /** Objects per ListObjectsV2 page (default and maximum 1000). */
  readonly listPageSize?: number;
  /**
   * "when-required" (default) sends request checksums only where S3 requires them and checks
   * response checksums only where required, which every S3-compatible server accepts;
   * "when-supported" is the SDK's default, which some servers reject.
   */
  readonly checksums?: "when-required" | "when-supported";
}

/**
 * An ObjectStore over an S3 bucket (cluster mode); key `k` is the S3 object `<root>/k`.
 *
 * A PutObject (or a multipart upload, for large objects) is atomic in S3: readers see the old or the
 * new object. `ifNotExists` sends `If-None-Match: *`, which S3 enforces; servers that ignore it
 * (s3proxy 2.6) overwrite instead. Ranges are sent as explicit `bytes=start-(end-1)`.
 */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  /** The key prefix in the bucket, with its trailing `/`, or "" for none. */
  readonly root: string;
  private readonly client: S3Client;
  private readonly maxAttempts: number;
  private readonly multipartThresholdBytes: number;
  private readonly partSizeBytes: number;
  private readonly multipartConcurrency: number;
  private readonly listPageSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.root = normalizeRoot(options.root ?? "");
    this.maxAttempts = positiveInteger("maxAttempts", options.maxAttempts ?? 3);
    this.multipartThresholdBytes = positiveInteger(
      "multipartThresholdBytes",
      options.multipartThresholdBytes ?? 16 * MiB,
    );
    this.partSizeBytes = positiveInteger("partSizeBytes", options.partSizeBytes ?? 8 * MiB);
    if (this.partSizeBytes < MIN_PART_BYTES) {
      throw new RangeError(`partSizeBytes must be at least ${MIN_PART_BYTES}, got ${this.partSizeBytes}`);
    }
    this.multipartConcurrency = positiveInteger("multipartConcurrency", options.multipartConcurrency ?? 4);
    this.listPageSize = Math.min(1000, positiveInteger("listPageSize", options.listPageSize ?? 1000));
    const requestTimeout = positiveInteger("requestTimeoutMs", options.requestTimeoutMs ?? 30_000);
    const checksums = options.checksums === "when-supported" ? "WHEN_SUPPORTED" : "WHEN_REQUIRED";
    this.client = new S3Client({
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      region: options.region,
      ...(options.credentials !== undefined && { credentials: options.credentials }),
      forcePathStyle: options.forcePathStyle ?? false,
      maxAttempts: this.maxAttempts,
      retryMode: "standard",
      // Options of the SDK's NodeHttpHandler, which it constructs from this plain object.
      requestHandler: {
        connectionTimeout: positiveInteger("connectionTimeoutMs", options.connectionTimeoutMs ?? 5_000),
        requestTimeout,
        throwOnRequestTimeout: true,
        socketTimeout: requestTimeout,
      },
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
    });
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    validateObjectKey(key);
    const ifNotExists = options.ifNotExists === true;
    try {
      if (data.byteLength > this.multipartThresholdBytes) await this.putMultipart(key, data, ifNotExists);
      else
        await this.putConditionalRetrying(key, data, ifNotExists, () =>
          this.putSingle(key, data, ifNotExists),
        );
    } catch (error) {
      throw toStoreError("put", key, error);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    validateObjectKey(key);
    try {
      const output = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.root + key }),
      );
      const bytes = await bodyBytes(output);
      if (output.ContentLength !== undefined && bytes.byteLength !== output.ContentLength) {
        throw new Error(`received ${bytes.byteLength} of ${output.ContentLength} bytes`);
      }
      return bytes;
    } catch (error) {
      throw toStoreError("get", key, error);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    validateObjectKey(key);
    validateRangeBounds(key, start, end);
    try {
      // S3 cannot express an empty range; the object must still exist.
      if (start === end) return await this.emptyRange(key, start, end);
      let output;
      try {
        output = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.root + key,
            Range: `bytes=${start}-${end - 1}`,
          }),
        );
      } catch (error) {
        // 416: the range starts at or past the end of the object.
        if (statusOf(error) === 416) return await this.emptyRange(key, start, end);
        throw error;
      }
      const bytes = await bodyBytes(output);
      if (output.ContentRange === undefined) {
        // A server that ignores Range answers 200 with the whole object.
        return bytes.slice(start, start + clampedRangeLength(key, start, end, bytes.byteLength));
      }
      const expected = expectedRangeLength(output.ContentRange, start, end);
      if (bytes.byteLength !== expected) {
        throw new Error(
          `received ${bytes.byteLength} bytes for range ${output.ContentRange}, expected ${expected}`,
        );
      }
      return bytes;
    } catch (error) {
      throw toStoreError("getRange", key, error);
    }
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    validateObjectKey(key);
    try {
      const output = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key }),
      );
      return { key, size: output.ContentLength ?? 0, lastModified: output.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (
        statusOf(error) === 404 &&
        !(error instanceof S3ServiceException && error.name === "NoSuchBucket")
      ) {
        return undefined;
      }
      throw toStoreError("head", key, error);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix);
    let continuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.root + prefix,
            MaxKeys: this.listPageSize,
            ContinuationToken: continuationToken,
          }),
        );
      } catch (error) {
        throw toStoreError("list", prefix, error);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key.slice(this.root.length),
          size: object.Size ?? 0,
          lastModified: object.LastModified?.getTime() ?? 0,
        };
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      if (page.IsTruncated === true && continuationToken === undefined) {
        throw new ObjectStoreOperationError(
          "list",
          prefix,
          new Error("truncated page without a continuation token"),
        );
      }
    } while (continuationToken !== undefined);
  }

  async delete(key: string): Promise<void> {
    validateObjectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.root + key }));
    } catch (error) {
      // S3 answers 204 for an absent key; some compatible servers answer 404 NoSuchKey.
      if (error instanceof S3ServiceException && error.name === "NoSuchKey") return;
      throw toStoreError("delete", key, error);
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  private async putSingle(key: string, data: Uint8Array, ifNotExists: boolean): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.root + key,
        Body: data,
        ContentLength: data.byteLength,
        ...(ifNotExists && { IfNoneMatch: "*" }),
      }),
    );
  }

  /**
   * Runs a conditional write `attempt`, and turns its precondition failures into outcomes:
   * - 409 ConditionalRequestConflict (a concurrent conditional write of the key): retried after a
   *   backoff, as S3 asks;
   * - 412 PreconditionFailed after the SDK retried the request: the first try may have written the
   *   object and only its answer been lost, so the write counts as done if the object now holds
   *   exactly `data`;
   * - otherwise 412 is ObjectExistsError.
   */
  private async putConditionalRetrying(
    key: string,
    data: Uint8Array,
    ifNotExists: boolean,
    attempt: () => Promise<void>,
  ): Promise<void> {
    for (let conflicts = 0; ; conflicts++) {
      try {
        await attempt();
        return;
      } catch (error) {
        if (!ifNotExists) throw error;
        const status = statusOf(error);
        if (status === 409 && conflicts + 1 < this.maxAttempts) {
          await sleep(100 * 2 ** conflicts * (0.5 + Math.random()));
          continue;
        }
        if (status !== 412) throw error;
        if (attemptsOf(error) > 1 && (await this.holds(key, data))) return;
        throw new ObjectExistsError(key, { cause: error });
      }
    }
  }

  /** Whether the object `key` exists and holds exactly `data`. */
  private async holds(key: string, data: Uint8Array): Promise<boolean> {
    try {
      const stored = await this.get(key);
      return Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(data);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return false;
      throw error;
    }
  }

  /** Uploads `data` in parts; the upload is aborted (its parts discarded) if any step fails. */
  private async putMultipart(key: string, data: Uint8Array, ifNotExists: boolean): Promise<void> {
    const s3Key = this.root + key;
    const partSize = Math.max(this.partSizeBytes, Math.ceil(data.byteLength / MAX_PARTS));
    const partCount = Math.ceil(data.byteLength / partSize);
    const { UploadId: uploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: s3Key }),
    );
    if (uploadId === undefined) throw new Error("CreateMultipartUpload returned no UploadId");
    try {
      const parts = await this.uploadParts(s3Key, uploadId, data, partSize, partCount);
      await this.putConditionalRetrying(key, data, ifNotExists, async () => {
        await this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: s3Key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            ...(ifNotExists && { IfNoneMatch: "*" }),
          }),
        );
      });
    } catch (error) {
      // Best effort: a failed abort leaves parts that a bucket lifecycle rule can expire.
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: s3Key, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  /** Uploads the parts, `multipartConcurrency` at a time; on failure waits for running ones to end. */
  private async uploadParts(
    s3Key: string,
    uploadId: string,
    data: Uint8Array,
    partSize: number,
    partCount: number,
  ): Promise<CompletedPart[]> {
    const parts: CompletedPart[] = [];
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < partCount) {
        const index = next++;
        const body = data.subarray(index * partSize, Math.min(data.byteLength, (index + 1) * partSize));
        try {
          const { ETag } = await this.client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: s3Key,
              UploadId: uploadId,
              PartNumber: index + 1,
              Body: body,
              ContentLength: body.byteLength,
            }),
          );
          parts[index] = { ETag, PartNumber: index + 1 };
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(this.multipartConcurrency, partCount) }, worker),
    );
    for (const result of results) if (result.status === "rejected") throw result.reason;
    return parts;
  }

  /** The answer to a range that holds no bytes: empty if the object exists and `start` is within it. */
  private async emptyRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const meta = await this.head(key);
    if (meta === undefined) throw new ObjectNotFoundError(key);
    return new Uint8Array(clampedRangeLength(key, start, end, meta.size));
  }
}

function normalizeRoot(root: string): string {
  const trimmed = root.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  validateObjectKey(trimmed);
  return `${trimmed}/`;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

async function bodyBytes(output: GetObjectCommandOutput): Promise<Uint8Array> {
  if (output.Body === undefined) return new Uint8Array(0);
  return output.Body.transformToByteArray();
}

/** Bytes a 206 answer must carry, from its `Content-Range: bytes first-last/size`. */
function expectedRangeLength(contentRange: string, start: number, end: number): number {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange);
  if (match === null || Number(match[1]) !== start) {
    throw new Error(`unexpected Content-Range ${JSON.stringify(contentRange)} for range [${start}, ${end})`);
  }
  return Number(match[2]) - start + 1;
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function attemptsOf(error: unknown): number {
  return error instanceof S3ServiceException ? (error.$metadata.attempts ?? 1) : 1;
}

/** Maps an SDK or transport error to the store's typed errors. */
function toStoreError(operation: string, key: string, error: unknown): ObjectStoreError {
  if (error instanceof ObjectStoreError) return error;
  if (error instanceof S3ServiceException) {
    // A missing bucket is a configuration error, not a missing object.
    const missingObject =
      error.name === "NoSuchKey" || (statusOf(error) === 404 && error.name !== "NoSuchBucket");
    if (missingObject && (operation === "get" || operation === "getRange")) {
      return new ObjectNotFoundError(key, { cause: error });
    }
    if (error.name === "KeyTooLongError") {
      return new InvalidObjectKeyError(key, "too long for S3 with the store's root prefix", { cause: error });
    }
  }
  return new ObjectStoreOperationError(operation, key, error);
}
