import net from "node:net";

export const LOOPBACK = "127.0.0.1";

function listenOnEphemeralPort(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Picks `count` distinct ports that were free on 127.0.0.1 a moment ago. They are released before
 * returning, so another process may take one before the service binds it: callers retry on a bind
 * failure with fresh ports.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  // All sockets are held open together so the kernel cannot hand out the same port twice.
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnEphemeralPort());
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}
