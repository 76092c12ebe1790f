import { EventEmitter } from 'node:events';
import type { SseSink } from '../../src/http/sse/sse-connection.js';
import { SseTestParser, type ReceivedEvent } from './sse-client.js';

/** A response whose socket the test fills and drains by hand. */
export class FakeSink extends EventEmitter implements SseSink {
  readonly chunks: string[] = [];
  isFull = false;
  isEnded = false;
  isDestroyed = false;

  write(chunk: string): boolean {
    if (this.isEnded) throw new Error('write after end');
    this.chunks.push(chunk);
    return !this.isFull;
  }

  end(): void {
    this.isEnded = true;
  }

  destroy(): void {
    this.isDestroyed = true;
    this.emit('close');
  }

  drain(): void {
    this.isFull = false;
    this.emit('drain');
  }

  events(): ReceivedEvent[] {
    return new SseTestParser().push(this.chunks.join(''));
  }
}

