import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessage } from '../src/protocol/codec.js';

/** A task_assign frame as the master sends one: the baseline echoes messages of this size. */
export function sampleFrame(): string {
  return JSON.stringify(createMessage('task_assign', {
    task_id: '0193a0c4-7b2e-7cc1-9a51-3f7e2d1c0b9a', attempt: 1, task_type: 'echo', payload: { message: 'bench-12345' },
    timeout_s: 300, priority: 'normal', lease_s: 60, labels: {},
  }, { sender: 'master', receiver: 'sim-00001' }));
}

export interface BaselineResult {
  msgsPerS: number;
  messageBytes: number;
  connections: number;
  window: number;
}

/**
 * NDJSON echo over loopback, JSON.parse + JSON.stringify on both sides,
 * client and server in separate processes: what this machine can physically
 * do per message. Everything else is reported against it.
 */
export async function measureBaseline(seconds = 3, connections = 16, window = 64): Promise<BaselineResult> {
  const server = spawn(process.execPath, [join(fileURLToPath(new URL('.', import.meta.url)), 'echo-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => server.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
  const frame = sampleFrame();
  let received = 0;
  let measuring = false;
  const sockets = await Promise.all(Array.from({ length: connections }, () => new Promise<ReturnType<typeof connect>>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.setNoDelay(true);
    s.setEncoding('utf8');
    let rest = '';
    s.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      let out = '';
      for (const line of lines) {
        JSON.parse(line);
        if (measuring) received++;
        out += `${JSON.stringify(JSON.parse(frame))}\n`;
      }
      if (out.length > 0) s.write(out);
    });
  })));
  for (const s of sockets) s.write(`${frame}\n`.repeat(window));
  await new Promise((r) => setTimeout(r, 500));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rate = received / ((performance.now() - t0) / 1000);
  for (const s of sockets) s.destroy();
  server.kill('SIGKILL');
  return { msgsPerS: Math.round(rate), messageBytes: Buffer.byteLength(frame), connections, window };
}
