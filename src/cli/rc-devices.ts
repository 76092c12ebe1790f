import type { Command } from 'commander';
import { CliExit, expectOk, type MasterClient } from './http-client.js';
import { EXIT } from './run-main.js';
import { formatDevice } from './rc-device-format.js';
import { printJson } from './rc-output.js';
import { styleFor } from './rc-style.js';

interface DevicesOptions {
  status?: string;
  role?: string;
  tag: string[];
  json?: boolean;
}

/** rc status, devices, device, drain, undrain, health. */
export function addClusterCommands(program: Command, client: () => MasterClient): void {
  addStatusCommands(program, client);
  addDeviceCommands(program, client);
}

function addStatusCommands(program: Command, client: () => MasterClient): void {
  program
    .command('status')
    .description('cluster summary: devices by state, resources, tasks')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const res = await client().get(opts.json ? '/api/v1/cluster/status' : '/text/status', opts.json ? 'application/json' : 'text/plain');
      const body = expectOk(res);
      if (opts.json) printJson(body);
      else process.stdout.write(ensureNewline(res.text));
    });
  program
    .command('health')
    .description('check that the master answers')
    .option('--json', 'print JSON (the answer is JSON already)')
    .action(async () => {
      const res = await client().get('/health');
      expectOk(res);
      process.stdout.write(`${res.text}\n`);
    });
}

function addDeviceCommands(program: Command, client: () => MasterClient): void {
  program
    .command('devices')
    .description('list devices')
    .option('--status <s>', 'online|suspect|offline|all')
    .option('--role <r>', 'only this role')
    .option('--tag <t>', 'only devices with this tag (repeatable or comma list: all of them)', collect, [])
    .option('--json', 'JSON instead of a table')
    .action(async (opts: DevicesOptions) => listDevices(client(), opts));
  program
    .command('device <id> [target]')
    .description('one device: profile, state, recent metrics, events; `rc device revoke ID` locks a device out')
    .option('--json', 'print JSON')
    .action(async (id: string, target: string | undefined, opts: { json?: boolean }) => {
      if (id === 'revoke' && target !== undefined) return revokeDevice(client(), target, opts);
      if (target !== undefined) throw new CliExit(EXIT.usage, `unexpected argument ${target}; did you mean rc device revoke ${target}?`);
      const device = expectOk(await client().get(`/api/v1/devices/${encodeURIComponent(id)}`));
      if (opts.json) printJson(device);
      else process.stdout.write(formatDevice(device as Record<string, unknown>, styleFor(process.stdout)));
    });
  for (const [name, description] of [
    ['drain', 'place no new tasks on a device (running ones finish)'],
    ['undrain', 'let a drained device take new tasks again'],
  ] as const) {
    program
      .command(`${name} <id>`)
      .description(description)
      .option('--json', 'print the device as JSON')
      .action(async (id: string, opts: { json?: boolean }) => {
        const device = expectOk(await client().post(`/api/v1/devices/${encodeURIComponent(id)}/${name}`, {}));
        if (opts.json) printJson(device);
        else process.stdout.write(`${id} ${name === 'drain' ? 'drained' : 'undrained'}\n`);
      });
  }
}

/** The device is locked out for good: its id cannot enrol again (PROTOCOL §4.8). */
async function revokeDevice(client: MasterClient, id: string, opts: { json?: boolean }): Promise<void> {
  const device = expectOk(await client.post(`/api/v1/devices/${encodeURIComponent(id)}/revoke`, {}));
  if (opts.json) printJson(device);
  else process.stdout.write(`${id} revoked\n`);
}

/** The server renders and filters the table (tags: the device must carry all of them). */
async function listDevices(client: MasterClient, opts: DevicesOptions): Promise<void> {
  const q = new URLSearchParams();
  if (opts.status) q.set('status', opts.status);
  if (opts.role) q.set('role', opts.role);
  const tags = opts.tag.flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  if (tags.length > 0) q.set('tag', tags.join(','));
  q.set('format', opts.json ? 'json' : 'text');
  const res = await client.get(`/text/devices?${q.toString()}`);
  expectOk(res);
  process.stdout.write(res.text);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
