package coordinator

// PresignBatch exposes presignBatch to the cluster tests.
var PresignBatch = (*Coordinator).presignBatch
