export * from './layout.js';
export { MatchingCore, EventBatch, type CoreLimits, type BookLevel, type CoreStats } from './matching-core.js';
export { ReferenceBook } from './reference-book.js';
export { readWorkload, workloadCommand, WORKLOAD_INSTRUMENT, WORKLOAD_ACCOUNT, WorkloadOp } from "./workload.js";
