import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { MessageOf } from '../src/bus/messages.js';
import { topics } from '../src/bus/subjects.js';
import type { ScalableDriver } from '../src/drivers/driver.js';

type In = { kind: 'report' };

export interface FleetAgentDeps {
  driver: ScalableDriver;
  intervalMs: number;
}

/**
 * The hands of the autoscaler on a host whose driver can scale (process or Docker): reports the
 * workers it runs every interval (fleet.inventory) and carries out the autoscaler's commands
 * (fleet.command), wherever the autoscaler runs. A retire is answered once the worker is in
 * Sundown; its drain goes on here.
 */
class FleetAgent implements Actor<In> {
  private ctx!: ActorContext<In>;
  private readonly incarnation = Date.now();
  private seq = 0;

  constructor(private readonly deps: FleetAgentDeps) {}

  start(ctx: ActorContext<In>): void {
    this.ctx = ctx;
    ctx.serve(topics.fleetCommand(ctx.hostId), (command: MessageOf<'fleet.command'>) => this.carryOut(command));
    ctx.every(this.deps.intervalMs, () => ({ kind: 'report' }));
    ctx.tell({ kind: 'report' });
  }

  receive(): void {
    this.ctx.bus.publish(topics.fleetInventory(this.ctx.hostId), { type: 'fleet.inventory', v: 1, ...this.inventory() });
  }

  private inventory(): Omit<MessageOf<'fleet.inventory'>, 'type' | 'v'> {
    return { host: this.ctx.hostId, driver: this.deps.driver.kind, incarnation: this.incarnation, seq: this.seq++, at: Date.now(), workers: this.deps.driver.list() };
  }

  private async carryOut(command: MessageOf<'fleet.command'>): Promise<MessageOf<'fleet.result'>> {
    const { driver } = this.deps;
    const answer = (worker: string | null, error: string | null): MessageOf<'fleet.result'> => ({ type: 'fleet.result', v: 1, ok: error === null, worker, error, ...this.inventory() });
    if (command.action === 'add') {
      try {
        return answer(await driver.add(), null);
      } catch (err) {
        return answer(null, (err as Error).message);
      }
    }
    const id = command.worker;
    const target = driver.list().find((w) => w.id === id);
    if (id === null || target === undefined) return answer(null, `no worker ${id ?? '(none named)'} runs on host ${this.ctx.hostId}`);
    if (target.isDefault) return answer(null, `worker ${id} is a default worker and is never sent to Sundown`);
    // retire() marks the worker retiring before its first await, so the inventory below shows it.
    const draining = driver.retire(id, command.drainMs);
    draining.catch((err: Error) => this.ctx.log(`stopping ${id} failed: ${err.message}`));
    this.ctx.log(`Sundown for ${id} (asked by ${command.from})`);
    return answer(id, null);
  }
}

export function fleetAgent(deps: FleetAgentDeps): ActorSpec<In> {
  return { name: 'fleet', create: () => new FleetAgent(deps) };
}
