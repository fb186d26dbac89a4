import type { StateStore, WorkerEntry } from './state-store.js';

/** The default state store of a single process (`npm start`): gone with the process. */
export class MemoryStateStore implements StateStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, WorkerEntry>();
  private defaultCount: number | null = null;

  constructor(readonly app: string) {}

  async list(): Promise<WorkerEntry[]> {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }

  async put(entry: WorkerEntry): Promise<void> {
    this.entries.set(entry.name, { ...entry });
  }

  async remove(name: string): Promise<void> {
    this.entries.delete(name);
  }

  async getDefaultCount(): Promise<number | null> {
    return this.defaultCount;
  }

  async setDefaultCount(count: number): Promise<void> {
    this.defaultCount = count;
  }

  async close(): Promise<void> {}
}
