import * as grpc from '@grpc/grpc-js';
import { startBackend, ECHO_PATH } from '../fixtures/backend.ts';
const b = await startBackend('v1');
const c = new grpc.Client(`127.0.0.1:${b.port}`, grpc.credentials.createInsecure());
c.makeUnaryRequest(ECHO_PATH, (v) => Buffer.from(JSON.stringify(v)), (b: Buffer) => JSON.parse(b.toString()), {}, new grpc.Metadata(), {}, (err, r) => { console.log(err?.message, r); c.close(); b.close(); });
