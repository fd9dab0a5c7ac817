/**
 * One module per state hash in Redis, each owning its key, its field names (FIELDS, used by
 * TypeScript and interpolated into Lua), its parsing and its serialisation. Imported as namespaces:
 * `ProducerState.FIELDS.watermarkMs`, `AveragesReaderState.parse(hash)`.
 */
export * as AggregatorState from './aggregator-state';
export * as AveragesReaderState from './averages-reader-state';
export * as ProducerState from './producer-state';
