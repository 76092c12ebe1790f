/**
 * The baseline's far side: an NDJSON echo server that parses every line and
 * stringifies it back, answering all lines of one read in one write — the
 * least a master must do per message. Run as its own process; prints its port.
 */
import { createServer } from 'node:net';

const server = createServer((socket) => {
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    let out = '';
    for (const line of lines) if (line.length > 0) out += `${JSON.stringify(JSON.parse(line))}\n`;
    if (out.length > 0) socket.write(out);
  });
  socket.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
