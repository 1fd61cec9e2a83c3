/**
 * chronicle/nats: replicate queues through NATS JetStream, exactly once. A separate entry point
 * so that `import "chronicle"` loads no NATS client; this one needs the optional peer dependencies
 * @nats-io/jetstream and @nats-io/transport-node (3.x).
 */
export { bridgeToJetStream, type OutboundBridge, type OutboundOptions, type OutboundStats } from "./outbound.ts";
export { bridgeFromJetStream, BINDING_FILE, type InboundBridge, type InboundOptions, type InboundStats } from "./inbound.ts";
export { HEADER, sourceIdentity, type Bridge, type BridgeCommonOptions, type BackoffOptions } from "./common.ts";
