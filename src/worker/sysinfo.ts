/**
 * The parts of systeminformation the worker uses, loaded one by one. Its
 * index requires all of its ~20 modules (docker, wifi, printers, …): that
 * cost 7.5 MB of RSS on a worker whose whole budget on a phone is 50 MB.
 */
import battery from 'systeminformation/lib/battery.js';
import { cpu, cpuTemperature } from 'systeminformation/lib/cpu.js';
import { fsSize } from 'systeminformation/lib/filesystem.js';
import { graphics } from 'systeminformation/lib/graphics.js';
import { mem } from 'systeminformation/lib/memory.js';
import { osInfo } from 'systeminformation/lib/osinfo.js';

export const si = { battery, cpu, cpuTemperature, fsSize, graphics, mem, osInfo };
