// The Open Inference Protocol on the runtime, independent of transport: what a model's
// metadata says, and one inference from checked tensors to output tensors. The REST routes
// (http.ts) and the gRPC service (grpc.ts) both call these, so the two transports cannot
// answer the same request differently.
import { randomUUID } from 'node:crypto';
import { PIN_HEADER } from '../xds/contract.ts';
import { protocolError } from '../platform/scoring/errors.ts';
import { datatypeOfTensor, inferRows, modelMetadata, pickOutputs, type InferRequest, type OutputTensor } from '../platform/scoring/oip.ts';
import type { LoadedModel } from './model.ts';

export const OIP_PLATFORM = 'onnxruntime_onnx';

export interface ServedModel {
  name: string;
  version: string;
}

/**
 * Resolves the model a request names. The runtime serves one model, under its own name and
 * version; behind a gateway (the edge or Envoy set `x-sluice-version` on every call they
 * route) the name is the service group's and the version the service version's, which the
 * gateway has already resolved to this backend, so they are taken as they come.
 */
export function resolveModel(served: ServedModel, name: string, version: string | null, headers: Record<string, string | string[] | undefined>): void {
  const routedVersion = headers[PIN_HEADER];
  const routed = typeof routedVersion === 'string' && routedVersion !== '';
  if (!routed && name !== served.name) {
    throw protocolError('RESOURCE_DOES_NOT_EXIST', `no model "${name}" here; this runtime serves "${served.name}"`, { model: name });
  }
  if (version !== null && version !== served.version && !(routed && version === routedVersion)) {
    throw protocolError('RESOURCE_DOES_NOT_EXIST', `model "${name}" has no version "${version}"; it serves version "${served.version}"`, { model: name, version });
  }
}

export function metadataOf(model: LoadedModel, name: string, version: string) {
  return modelMetadata(
    name,
    [version],
    OIP_PLATFORM,
    model.signature.inputs,
    model.outputs.map((o) => ({ name: o.name, datatype: datatypeOfTensor(o.type), shape: o.shape })),
  );
}

export interface InferResult {
  id: string;
  rows: number;
  outputs: OutputTensor[];
}

/** Checked tensors → output tensors. Throws ProtocolError (400 / 413) for input the model cannot take. */
export async function runInference(model: LoadedModel, request: InferRequest, maxRows: number): Promise<InferResult> {
  const rows = inferRows(request, model.signature, { maxRows });
  const names = pickOutputs(
    request,
    model.outputs.map((o) => o.name),
  );
  const values = await model.infer(rows, names);
  const outputs = names.map((name) => {
    const v = values[name] as { type: string; dims: number[]; data: Array<number | string | boolean> };
    return { name, datatype: datatypeOfTensor(v.type), shape: v.dims, data: v.data };
  });
  return { id: request.id ?? randomUUID(), rows: rows.length, outputs };
}
