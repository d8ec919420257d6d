// A minimal HTTP reverse proxy in front of several Accord instances, as a simple load balancer
// would be: no session affinity. By default it alternates strictly; a test may pin some requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Routed {
  method: string;
  path: string;
  upstream: number;
  status: number;
}

export class RoundRobinProxy {
  readonly log: Routed[] = [];
  /** Returns the upstream index for a request, or undefined to take the next in turn. */
  pin: (method: string, path: string) => number | undefined = () => undefined;
  private turn = 0;
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: false });

  /** The upstream ports (loopback); may be set after listen(), before the first request. */
  upstreams: number[] = [];

  constructor() {
    this.server = http.createServer((request, response) => this.forward(request, response));
  }

  async listen(port: number): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse): void {
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const pinned = this.pin(method, path);
    const upstream = pinned ?? this.turn++ % this.upstreams.length;
    const entry: Routed = { method, path, upstream, status: 0 };
    this.log.push(entry);
    const outbound = http.request(
      { host: '127.0.0.1', port: this.upstreams[upstream], method, path, headers: request.headers, agent: this.agent },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        response.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(response);
      },
    );
    outbound.on('error', () => {
      entry.status = 502;
      if (!response.headersSent) response.writeHead(502).end();
      else response.destroy();
    });
    request.pipe(outbound);
  }
}
