// Kept for callers that still load the gateway's services by this name (test/bench/gateway.ts):
// the one Envoy API loader is proto/envoy.ts; use envoyServices()/envoyPackage() from there.
export { envoyPackage as loadGatewayProtos } from '../proto/envoy.ts';
