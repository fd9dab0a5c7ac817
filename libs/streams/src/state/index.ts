/**
 * One module per state hash in Redis, each owning its key, its field names (FIELDS, used by
 * TypeScript and interpolated into Lua), its parsing and its serialisation. Imported as namespaces:
 * `ProducerStateHash.FIELDS.watermarkMs`, `AveragesReaderStateHash.parse(hash)`.
 */
export * as AggregatorStateHash from './aggregator-state';
export * as AveragesReaderStateHash from './averages-reader-state';
export * as LaneRegistryHash from './lane-registry';
export * as LaneStateHash from './lane-state';
export * as LanesAggregatorStateHash from './lanes-aggregator-state';
export * as ProducerStateHash from './producer-state';
