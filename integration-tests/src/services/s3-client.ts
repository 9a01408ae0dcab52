import type { S3ClientConfig } from "@aws-sdk/client-s3";
import type { ServiceEndpoints } from "./types.js";

/**
 * The S3 client settings for the test S3 server: its endpoint, path-style URLs, static credentials,
 * and checksums only where S3 requires them. With the SDK's default (checksums whenever supported),
 * s3proxy 2.6 rejects streamed uploads, which the SDK then sends with a trailing checksum
 * (XAmzContentSHA256Mismatch).
 */
export function s3ClientConfig(s3: ServiceEndpoints["s3"]): S3ClientConfig {
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
}
