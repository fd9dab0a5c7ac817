// Defined beside the state modules that throw it (libs/streams/src/state); kept importable here.
export { CorruptStateError } from '@temps/streams';
