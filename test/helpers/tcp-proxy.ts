import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test controls, between workers and the master. It
 * misbehaves only when told to: it can cut every connection at once (a
 * Wi-Fi blip) or one of them, add latency, or hold all traffic for a while
 * (a partition: bytes are neither delivered nor refused, as on a dead link).
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #port = 0;
  #latencyMs = 0;
  #heldUntil = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => this.#accept(client, targetPort));
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.#port = (proxy.#server.address() as AddressInfo).port;
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get connections(): number {
    return this.#pairs.size;
  }

  /** Cut every connection now; new ones are still accepted. */
  cutAll(): void {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  /** Cut the `index`-th open connection (modulo their number); false when there is none. */
  cutOne(index: number): boolean {
    const pairs = [...this.#pairs];
    const pair = pairs[index % Math.max(1, pairs.length)];
    if (!pair) return false;
    pair[0].destroy();
    pair[1].destroy();
    this.#pairs.delete(pair);
    return true;
  }

  /** Every byte from now on is delayed this long, each way (order is kept). */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  /** Hold all traffic, both ways, for `ms`; then deliver what was held. */
  partition(ms: number): void {
    this.#heldUntil = Math.max(this.#heldUntil, Date.now() + ms);
  }

  close(): Promise<void> {
    this.cutAll();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, targetPort: number): void {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    this.#forward(client, upstream);
    this.#forward(upstream, client);
    const drop = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }

  /** Like pipe(), but each chunk leaves at max(now + latency, end of partition, previous chunk's time). */
  #forward(from: Socket, to: Socket): void {
    let lastDue = 0;
    from.on('data', (chunk: Buffer) => {
      const due = Math.max(Date.now() + this.#latencyMs, this.#heldUntil, lastDue);
      lastDue = due;
      const send = (): void => {
        if (!to.destroyed) to.write(chunk);
      };
      if (due <= Date.now()) send();
      else setTimeout(send, due - Date.now());
    });
    from.on('end', () => {
      const wait = Math.max(0, lastDue - Date.now());
      setTimeout(() => to.end(), wait);
    });
  }
}
