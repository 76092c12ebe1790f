// Types for the systeminformation modules the worker loads one by one
// (src/worker/sysinfo.ts); the package types only its index.
declare module 'systeminformation/lib/battery.js' {
  import type { Systeminformation } from 'systeminformation';
  const battery: () => Promise<Systeminformation.BatteryData>;
  export default battery;
}
declare module 'systeminformation/lib/cpu.js' {
  import type { Systeminformation } from 'systeminformation';
  export function cpu(): Promise<Systeminformation.CpuData>;
  export function cpuTemperature(): Promise<Systeminformation.CpuTemperatureData>;
}
declare module 'systeminformation/lib/filesystem.js' {
  import type { Systeminformation } from 'systeminformation';
  export function fsSize(): Promise<Systeminformation.FsSizeData[]>;
}
declare module 'systeminformation/lib/graphics.js' {
  import type { Systeminformation } from 'systeminformation';
  export function graphics(): Promise<Systeminformation.GraphicsData>;
}
declare module 'systeminformation/lib/memory.js' {
  import type { Systeminformation } from 'systeminformation';
  export function mem(): Promise<Systeminformation.MemData>;
}
declare module 'systeminformation/lib/osinfo.js' {
  import type { Systeminformation } from 'systeminformation';
  export function osInfo(): Promise<Systeminformation.OsData>;
}
