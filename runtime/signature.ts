// Model signatures: the named, typed columns a model takes and gives. One parser for every
// place a signature arrives from outside (a signature.json next to an artifact, the
// registry's Json column, an MLflow model), so a bad one is rejected the same way everywhere.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ModelSignature, SignatureColumn } from '../platform/model-signature.ts';
import { ModelError } from './errors.ts';

export type { ModelSignature, SignatureColumn };

export const COLUMN_TYPES = ['float', 'double', 'int', 'long', 'string', 'boolean'] as const satisfies readonly SignatureColumn['type'][];

const columnSchema = z.object({
  name: z.string().min(1),
  type: z.enum(COLUMN_TYPES),
});

const signatureSchema = z.object({
  inputs: z.array(columnSchema).min(1),
  outputs: z.array(columnSchema).default([]),
});

/** Validate an untrusted signature value; INVALID_SIGNATURE names what is wrong. */
export function parseSignature(value: unknown): ModelSignature {
  const parsed = signatureSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new ModelError('INVALID_SIGNATURE', `invalid model signature${where ? ` at ${where}` : ''}: ${issue?.message ?? 'malformed'}`);
  }
  const seen = new Set<string>();
  for (const column of parsed.data.inputs) {
    if (seen.has(column.name)) throw new ModelError('INVALID_SIGNATURE', `invalid model signature: input column "${column.name}" appears twice`);
    seen.add(column.name);
  }
  return { inputs: parsed.data.inputs, outputs: parsed.data.outputs };
}

/** Read and validate a signature JSON file (`{inputs: [{name, type}], outputs: [...]}`). */
export async function readSignatureFile(path: string): Promise<ModelSignature> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ModelError('INVALID_SIGNATURE', `cannot read signature file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelError('INVALID_SIGNATURE', `signature file ${path} is not JSON`, { cause: err });
  }
  return parseSignature(value);
}
