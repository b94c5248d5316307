package peer

// signRaw signs e as it stands, for tests that forge envelopes.
func signRaw(id *Identity, e *Envelope) []byte { return id.signEnvelope(e) }
