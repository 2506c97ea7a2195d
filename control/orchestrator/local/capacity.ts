// Capacity bookkeeping for the local orchestrator: the shared pay-as-you-go pool (this
// machine, as configured) and the nodes of dedicated resource groups. Each replica must fit
// on one node (CPU, memory, GPUs of the requested type); a version is placed all-or-nothing
// so it never runs half-scheduled. GPUs get device indices so a replica can be pinned to
// them (CUDA_VISIBLE_DEVICES).

import type { DedicatedNodes, ResourceSpec } from '../port.ts';

export interface LocalCapacity {
  cpu: number;
  memoryGiB: number;
  gpus: { type: string; count: number }[];
}

export interface Placement {
  instance: string;
  node: string;
  gpuIndices: number[];
  resources: ResourceSpec;
}

export type PlacementResult = { ok: true; placements: Placement[] } | { ok: false; reason: string };

interface NodeState {
  key: string; // unique across pools: "local" or "rg/{group}/{node}"
  name: string;
  cpu: number;
  memoryGiB: number;
  gpuSlots: { index: number; type: string; usedBy: string | null }[];
  used: Map<string, { cpu: number; memoryGiB: number }>;
}

// Floating-point sums of fractional cores must not refuse an exact fit.
const EPSILON = 1e-9;

export const SHARED_POOL_NODE = 'local';

function gpuSlotsFor(gpus: { type: string; count: number }[]): NodeState['gpuSlots'] {
  const slots: NodeState['gpuSlots'] = [];
  for (const g of gpus) for (let i = 0; i < g.count; i++) slots.push({ index: slots.length, type: g.type, usedBy: null });
  return slots;
}

export class CapacityLedger {
  private readonly shared: NodeState;
  // Dedicated nodes are learnt from deployments (the domain owns the resource groups).
  private readonly dedicated = new Map<string, NodeState>();

  constructor(capacity: LocalCapacity) {
    this.shared = {
      key: SHARED_POOL_NODE,
      name: SHARED_POOL_NODE,
      cpu: capacity.cpu,
      memoryGiB: capacity.memoryGiB,
      gpuSlots: gpuSlotsFor(capacity.gpus),
      used: new Map(),
    };
  }

  /** Place every instance or none; on failure the reason reads like a scheduler's. */
  place(instances: string[], resources: ResourceSpec, dedicated: DedicatedNodes | null): PlacementResult {
    const nodes = this.nodesFor(dedicated);
    if (nodes.length === 0) {
      return { ok: false, reason: `0/0 nodes are available: resource group ${dedicated?.resourceGroupName ?? ''} has no ready node` };
    }
    const placements: Placement[] = [];
    const rollback = () => placements.forEach((p) => this.release(p.instance));
    for (const instance of instances) {
      const shortfalls = new Set<string>();
      let placed: Placement | null = null;
      for (const node of nodes) {
        const why = this.shortfall(node, resources);
        if (why.length > 0) {
          why.forEach((w) => shortfalls.add(w));
          continue;
        }
        placed = this.commit(node, instance, resources);
        break;
      }
      if (!placed) {
        rollback();
        const need = describe(resources);
        return {
          ok: false,
          reason: `0/${nodes.length} nodes are available for ${instance} (needs ${need}): ${[...shortfalls].join(', ')}`,
        };
      }
      placements.push(placed);
    }
    return { ok: true, placements };
  }

  /** Re-reserve what an adopted process already holds (after a control-plane restart). */
  restore(placement: Placement, dedicated: DedicatedNodes | null): boolean {
    const node = this.nodesFor(dedicated).find((n) => n.name === placement.node);
    if (!node || this.shortfall(node, placement.resources, placement.gpuIndices).length > 0) return false;
    this.commit(node, placement.instance, placement.resources, placement.gpuIndices);
    return true;
  }

  release(instance: string): void {
    for (const node of [this.shared, ...this.dedicated.values()]) {
      node.used.delete(instance);
      for (const slot of node.gpuSlots) if (slot.usedBy === instance) slot.usedBy = null;
    }
  }

  /** Free capacity per node, for diagnostics and tests. */
  free(): { node: string; cpu: number; memoryGiB: number; gpus: number }[] {
    return [this.shared, ...this.dedicated.values()].map((n) => {
      const { cpu, memoryGiB } = usedOf(n);
      return {
        node: n.key,
        cpu: n.cpu - cpu,
        memoryGiB: n.memoryGiB - memoryGiB,
        gpus: n.gpuSlots.filter((s) => s.usedBy === null).length,
      };
    });
  }

  private nodesFor(dedicated: DedicatedNodes | null): NodeState[] {
    if (!dedicated) return [this.shared];
    const result: NodeState[] = [];
    for (const n of dedicated.nodes) {
      if (n.state !== 'READY') continue;
      const key = `rg/${dedicated.resourceGroupName}/${n.name}`;
      let node = this.dedicated.get(key);
      const gpus = n.gpuType && n.gpuCount > 0 ? [{ type: n.gpuType, count: n.gpuCount }] : [];
      if (!node) {
        node = { key, name: n.name, cpu: n.cpu, memoryGiB: n.memoryGiB, gpuSlots: gpuSlotsFor(gpus), used: new Map() };
        this.dedicated.set(key, node);
      } else {
        // The group's nodes may have been resized since: keep reservations, take the new size.
        node.cpu = n.cpu;
        node.memoryGiB = n.memoryGiB;
        const fresh = gpuSlotsFor(gpus);
        for (const slot of fresh) slot.usedBy = node.gpuSlots.find((s) => s.index === slot.index)?.usedBy ?? null;
        node.gpuSlots = fresh;
      }
      result.push(node);
    }
    return result;
  }

  private shortfall(node: NodeState, r: ResourceSpec, gpuIndices?: number[]): string[] {
    const used = usedOf(node);
    const why: string[] = [];
    if (used.cpu + r.cpu > node.cpu + EPSILON) why.push(`insufficient cpu on ${node.name} (free ${fmt(node.cpu - used.cpu)})`);
    if (used.memoryGiB + r.memoryGiB > node.memoryGiB + EPSILON) {
      why.push(`insufficient memory on ${node.name} (free ${fmt(node.memoryGiB - used.memoryGiB)}Gi)`);
    }
    if (r.gpuCount > 0) {
      const free = this.freeGpus(node, r.gpuType);
      const enough = gpuIndices ? gpuIndices.every((i) => free.some((s) => s.index === i)) : free.length >= r.gpuCount;
      if (!enough) why.push(`insufficient ${r.gpuType ?? 'GPU'} GPUs on ${node.name} (free ${free.length})`);
    }
    return why;
  }

  private freeGpus(node: NodeState, type: string | null) {
    return node.gpuSlots.filter((s) => s.usedBy === null && (type === null || s.type.toLowerCase() === type.toLowerCase()));
  }

  private commit(node: NodeState, instance: string, r: ResourceSpec, gpuIndices?: number[]): Placement {
    node.used.set(instance, { cpu: r.cpu, memoryGiB: r.memoryGiB });
    const slots = gpuIndices
      ? node.gpuSlots.filter((s) => gpuIndices.includes(s.index))
      : this.freeGpus(node, r.gpuType).slice(0, r.gpuCount);
    for (const s of slots) s.usedBy = instance;
    return { instance, node: node.name, gpuIndices: slots.map((s) => s.index), resources: r };
  }
}

function usedOf(node: NodeState) {
  let cpu = 0;
  let memoryGiB = 0;
  for (const u of node.used.values()) {
    cpu += u.cpu;
    memoryGiB += u.memoryGiB;
  }
  return { cpu, memoryGiB };
}

const fmt = (n: number) => String(Math.round(n * 1000) / 1000);

function describe(r: ResourceSpec): string {
  const gpu = r.gpuCount > 0 ? `, ${r.gpuCount}× ${r.gpuType ?? 'GPU'}` : '';
  return `${fmt(r.cpu)} cpu, ${fmt(r.memoryGiB)}Gi memory${gpu}`;
}
