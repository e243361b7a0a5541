/**
 * What the memory planner knows about the machine beyond the config: the
 * device totals the system reports, what each model was measured to use,
 * and which GPUs each running `gpus: N` model was given. It is the only
 * mutable state the planner reads. The measuring side writes it between
 * scheduler events (measurements arrive asynchronously), never during one,
 * so every read within one event sees the same figures.
 */

/** Bytes per device name (`gpu0`, …, `ram`). */
export type DeviceBytes = Record<string, number>;

/** The memory book shared by the measuring side (writer) and the planner (reader). */
export class MemoryBook {
  readonly #totals = new Map<string, number>();
  readonly #measured = new Map<string, DeviceBytes>();
  readonly #placed = new Map<string, readonly string[]>();

  /** Replace the device totals the system reports; devices left out become unknown. */
  setTotals(totals: DeviceBytes): void {
    this.#totals.clear();
    for (const [device, bytes] of Object.entries(totals)) this.#totals.set(device, bytes);
  }

  /** The reported total of a device in bytes, or null when unknown (no tool, not read yet). */
  total(device: string): number | null {
    return this.#totals.get(device) ?? null;
  }

  /** Record what a model was measured to use (replaces its previous measurement). */
  record(model: string, usage: DeviceBytes): void {
    this.#measured.set(model, { ...usage });
  }

  /** The model's last measurement, or null when it was never measured. */
  measured(model: string): Readonly<DeviceBytes> | null {
    return this.#measured.get(model) ?? null;
  }

  /** Every measurement, by model (for the state file). */
  measurements(): Record<string, DeviceBytes> {
    return Object.fromEntries([...this.#measured].map(([model, usage]) => [model, { ...usage }]));
  }

  /** The GPUs a model was started on. */
  place(model: string, devices: readonly string[]): void {
    this.#placed.set(model, [...devices]);
  }

  /** The GPUs a running model was started on, or null when it was given none. */
  placement(model: string): readonly string[] | null {
    return this.#placed.get(model) ?? null;
  }

  /** The model stopped: its GPUs are free again. */
  release(model: string): void {
    this.#placed.delete(model);
  }
}
