import { Registry } from 'prom-client';
import type { Store } from '../store/store.js';
import type { DeviceRegistry } from './registry.js';
import type { TaskService } from './tasks/task-service.js';

export interface MetricsDeps {
  registry: DeviceRegistry;
  tasks: TaskService;
  store: Store;
  /** Open wire connections now. */
  openConnections(): number;
}

/**
 * One prom-client Registry per master instance (two masters can share a
 * process in tests). STUB: filled in by the metrics work (issue #4).
 */
export class MasterMetrics {
  readonly register = new Registry();

  constructor(_deps: MetricsDeps) {}

  countWireMessage(_messageType: string): void {}
  countProtocolError(_code: string): void {}
  sseClientOpened(_stream: string): void {}
  sseClientClosed(_stream: string): void {}
  sseClientDropped(_stream: string): void {}

  /** Prometheus text exposition format. */
  async render(): Promise<string> {
    return this.register.metrics();
  }
}
