export {
  BusLayout, validateStrategyId, defaultBusRoot, defaultUserPath, MAX_STRATEGY_ID_BYTES, type BusLayoutOptions, type StrategyEndpoints,
} from "./layout.ts";
export {
  markReady, readyVersion, writeLease, readLease, isLeaseStale, READY_FILE, LEASE_FILE, SUPPORTED_READY_VERSION, type Lease,
} from "./markers.ts";
export { ReaderRegistration } from "./registration.ts";
export { RouterDiscovery, type DiscoveryEvent, type DiscoveryOptions } from "./discovery.ts";
export { StrategyRouter, type RoutedMessage, type StrategyRouterOptions } from "./router.ts";
