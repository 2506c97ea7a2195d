// A model's signature: its named, typed input and output columns, as MLflow writes them. The
// registry stores it, the orchestrator hands it to a runtime, the runtime and the edge check
// requests against it, and the inference table types its columns from it.

export interface SignatureColumn {
  name: string;
  type: 'float' | 'double' | 'int' | 'long' | 'string' | 'boolean';
}

export interface ModelSignature {
  inputs: SignatureColumn[];
  outputs: SignatureColumn[];
}
