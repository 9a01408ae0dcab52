/** `host:port`, bracketing IPv6 literals so the result is a valid URL authority and gRPC target. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}
