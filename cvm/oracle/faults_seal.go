//go:build ccfault

package oracle

import (
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// FaultSeal signs payload with this oracle's own identity key under a
// header with the given fields and this oracle as sender (encrypting it to
// the receiver if confidential), as a malicious oracle could: tests use it
// to check that a payload an oracle signed and that fails a check names
// that oracle. Compiled only with the build tag ccfault.
func (o *Oracle) FaultSeal(kind uint8, keyID, sid [32]byte, round uint16, to uint8, payload []byte, confidential bool) ([]byte, error) {
	return o.seal(kind, keyID, sid, round, to, payload, confidential)
}

// FaultSealCommitted signs payload as the opening of commitment
// (peer.SealCommitted) with this oracle's own identity key. Compiled only
// with the build tag ccfault.
func (o *Oracle) FaultSealCommitted(kind uint8, keyID, sid [32]byte, round uint16, payload, commitment []byte) ([]byte, error) {
	h := peer.Header{Kind: kind, KeyID: keyID, Session: sid, Round: round, Sender: o.cfg.NodeID, Receiver: peer.Broadcast}
	e, err := o.identity.SealCommitted(h, payload, commitment)
	if err != nil {
		return nil, err
	}
	return e.Marshal()
}

// FaultRelayContext returns the envelope session id this oracle binds the
// envelopes of a presigning or pair-setup relay session to, so that a test
// can seal as a malicious participant would. Compiled only with the build
// tag ccfault.
func (o *Oracle) FaultRelayContext(proto wire.Protocol, sid [32]byte, params, participants []uint8) ([32]byte, error) {
	var sharing [32]byte
	if proto == wire.ProtoECDSAPresign || proto == wire.ProtoRefresh {
		k, err := o.keys()
		if err != nil {
			return [32]byte{}, err
		}
		share, _ := k.ecdsaState()
		sharing = share.SharingDigest()
	}
	return o.relayContext(proto, sid, params, sharing, participants)
}
