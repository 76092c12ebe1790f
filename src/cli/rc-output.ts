/** Print a value as JSON on stdout: indented for people by default, one line when `isPretty` is false. */
export function printJson(value: unknown, isPretty = true): void {
  process.stdout.write(`${isPretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`);
}
