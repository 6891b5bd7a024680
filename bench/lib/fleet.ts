// The runner's side of the load generators: forks N processes of bench/loadgen.js, sends each its
// commands over IPC and awaits the answers, and stops exactly the processes it forked.

import { ChildProcess, fork } from "node:child_process";
import { resolve } from "node:path";
import { Command, Response } from "./protocol";

const SCRIPT = resolve(__dirname, "../loadgen.js");

class Generator {
  private nextId = 1;
  private readonly waiting = new Map<number, { done: (reply: unknown) => void; fail: (e: Error) => void }>();

  constructor(readonly process: ChildProcess) {
    process.on("message", (response: Response) => {
      const waiter = this.waiting.get(response.id);
      if (waiter === undefined) {
        return;
      }
      this.waiting.delete(response.id);
      if (response.error !== undefined) {
        waiter.fail(new Error(`load generator ${process.pid}: ${response.error}`));
      } else {
        waiter.done(response.reply);
      }
    });
    process.on("exit", (code, signal) => {
      for (const waiter of this.waiting.values()) {
        waiter.fail(new Error(`load generator ${process.pid} exited (${code ?? signal})`));
      }
      this.waiting.clear();
    });
  }

  send<T>(command: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((done, fail) => {
      this.waiting.set(id, { done: done as (reply: unknown) => void, fail });
      this.process.send({ id, command }, (e) => {
        if (e !== null && e !== undefined) {
          this.waiting.delete(id);
          fail(e);
        }
      });
    });
  }
}

export class Fleet {
  private constructor(private readonly generators: Generator[]) {}

  /** Forks `size` load generators. */
  static start(size: number): Fleet {
    const generators: Generator[] = [];
    for (let i = 0; i < size; i++) {
      generators.push(new Generator(fork(SCRIPT, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] })));
    }
    return new Fleet(generators);
  }

  pids(): number[] {
    return this.generators.map((generator) => generator.process.pid!).filter((pid) => pid !== undefined);
  }

  get size(): number {
    return this.generators.length;
  }

  send<T>(index: number, command: Command): Promise<T> {
    return this.generators[index].send<T>(command);
  }

  /** Sends each generator the command `commandFor(i)` (skipped when undefined), all at once. */
  all<T>(commandFor: (index: number) => Command | undefined): Promise<T[]> {
    const replies: Array<Promise<T>> = [];
    for (let i = 0; i < this.generators.length; i++) {
      const command = commandFor(i);
      if (command !== undefined) {
        replies.push(this.generators[i].send<T>(command));
      }
    }
    return Promise.all(replies);
  }

  /** Ends the generators: a disconnect makes each exit; SIGKILL if one has not within 5 s. */
  async stop(): Promise<void> {
    await Promise.all(
      this.generators.map(async ({ process: child }) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          return;
        }
        const exited = new Promise<void>((done) => child.once("exit", () => done()));
        if (child.connected) {
          child.disconnect();
        } else {
          child.kill("SIGTERM");
        }
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** Hands out loopback source addresses 127.0.0.2, 127.0.0.3, …, never the same one twice in a run. */
export class AddressPool {
  private next = 2;

  take(n: number): string[] {
    const addresses: string[] = [];
    while (addresses.length < n) {
      const value = this.next++;
      const c = value % 256;
      if (c < 2 || c > 254) {
        continue;
      }
      const b = Math.floor(value / 256) % 256;
      const a = Math.floor(value / 65536);
      if (a > 254) {
        throw new Error("out of 127.x.y.z source addresses");
      }
      addresses.push(`127.${a}.${b}.${c}`);
    }
    return addresses;
  }
}
