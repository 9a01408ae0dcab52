import { HoraeDBArgumentError } from "./errors.js";

/** The gRPC port of a horaedb instance when an endpoint names none (design.md section 8). */
export const DEFAULT_GRPC_PORT = 8831;

/**
 * Normalises an endpoint to `host:port` (`[v6]:port` for IPv6). A missing port means 8831.
 * Throws HoraeDBArgumentError for anything else.
 */
export function normalizeEndpoint(endpoint: string): string {
  const text = endpoint.trim();
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text);
  if (bracketed !== null) return formatEndpoint(bracketed[1] ?? "", portOf(bracketed[2], endpoint));
  const parts = text.split(":");
  if (parts.length > 2) {
    // More than one colon and no brackets: a bare IPv6 address without a port.
    return formatEndpoint(text, DEFAULT_GRPC_PORT);
  }
  const host = parts[0] ?? "";
  if (host.length === 0 || /\s/.test(host)) {
    throw new HoraeDBArgumentError(`endpoint "${endpoint}" is not host:port`);
  }
  return formatEndpoint(host, portOf(parts[1], endpoint));
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatEndpoint(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function portOf(text: string | undefined, endpoint: string): number {
  if (text === undefined) return DEFAULT_GRPC_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new HoraeDBArgumentError(`endpoint "${endpoint}" has an invalid port`);
  }
  return port;
}
