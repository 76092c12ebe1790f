/**
 * The lines `GET /join` prints (issue #7): how to start a worker on each kind
 * of device, with this master's address and, for an authorised caller, its
 * join token filled in. Pure, so the exact text is unit-tested.
 */
export interface JoinFacts {
  /** How the caller reached the master (from the Host header), already checked to be a plain host name or address. */
  host: string;
  httpPort: number;
  tcpPort: number;
  https: boolean;
  /** null: the caller may not see it (a placeholder is printed instead), or the master is --insecure. */
  token: string | null;
  insecure: boolean;
  tlsFingerprint: string | null;
}

export const TOKEN_PLACEHOLDER = '<JOIN_TOKEN>';

export interface JoinCommands {
  termux: string;
  raspberry_pi: string;
  linux_macos: string;
  windows: string;
  verify: string;
}

export function joinCommands(f: JoinFacts): JoinCommands {
  const base = `${f.https ? 'https' : 'http'}://${f.host}:${f.httpPort}`;
  const k = f.https ? 'k' : '';
  const fetch = `curl -fsSL${k}o rc-worker.js ${base}/worker.js`;
  const token = f.insecure ? '' : ` --token ${f.token ?? TOKEN_PLACEHOLDER}`;
  const pin = f.tlsFingerprint === null ? '' : ` --tls-fingerprint ${f.tlsFingerprint}`;
  const run = `node rc-worker.js --join ${f.host}:${f.tcpPort}${token}${pin}`;
  return {
    termux: `pkg install -y nodejs-lts && ${fetch} && ${run}`,
    raspberry_pi: `sudo apt-get install -y nodejs && ${fetch} && ${run}`,
    linux_macos: `${fetch} && ${run}`,
    windows: `Invoke-WebRequest ${base}/worker.js -OutFile rc-worker.js; ${run}`,
    verify: `curl -fsS${k} ${base}/worker.js.sha256   # compare with: sha256sum rc-worker.js`,
  };
}

const LABELS: Record<keyof JoinCommands, string> = {
  termux: 'Android (Termux)',
  raspberry_pi: 'Raspberry Pi OS',
  linux_macos: 'Linux / macOS',
  windows: 'Windows (PowerShell)',
  verify: 'Check the download',
};

export function joinText(f: JoinFacts): string {
  const commands = joinCommands(f);
  const blocks = (Object.keys(LABELS) as Array<keyof JoinCommands>).map((key) => `# ${LABELS[key]}\n${commands[key]}\n`);
  const notes: string[] = [];
  if (f.token === null && !f.insecure) {
    notes.push(`# ${TOKEN_PLACEHOLDER}: the master's join token. It is filled in when you ask with the API token:`);
    notes.push(`#   curl -H "Authorization: Bearer $(cat data/api-token)" ${f.https ? 'https' : 'http'}://${f.host}:${f.httpPort}/join`);
    notes.push('# or read it from data/join-token on the master.');
  }
  if (f.insecure) notes.push('# This master is --insecure: any device that reaches it can join. Use that only on a lab network.');
  return `# Join this device to the retire-cluster master at ${f.host}:${f.tcpPort} (Node 18 or newer).\n\n${blocks.join('\n')}${notes.length > 0 ? `\n${notes.join('\n')}\n` : ''}`;
}

/** A Host header value we are willing to paste into shell commands: a name, IPv4 or [IPv6], nothing else. */
export function safeHost(hostname: string | undefined): string | null {
  if (hostname === undefined) return null;
  return /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])$/.test(hostname) ? hostname : null;
}
