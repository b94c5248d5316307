package oracle

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// Membership limits and defaults.
const (
	// maxChallenges bounds the challenges an oracle keeps outstanding; the
	// oldest is dropped when a new one would exceed it.
	maxChallenges = 16
	// challengeLifetime is how long a challenge can be answered.
	challengeLifetime = 5 * time.Minute
	// maxRetired bounds the identities of former members an oracle
	// remembers; membership changes are refused once it is full (a new key
	// ceremony starts afresh).
	maxRetired = 4096
	// DefaultSilenceBeforeChange is how long a node index must have been
	// silent before its identity may be replaced.
	DefaultSilenceBeforeChange = time.Minute
	// DefaultChangeWindow and the cluster's Nodes − Threshold bound how
	// many membership changes an oracle endorses or commits per window.
	DefaultChangeWindow = time.Hour
)

// Membership steps of wire.ProtoMembership.
const (
	memberStepChallenge = 1 // return a fresh challenge
	memberStepEndorse   = 2 // check a change and sign an endorsement
	memberStepCommit    = 3 // move to the next epoch (members and joiner)
)

// membershipState is what an oracle knows about its cluster's membership;
// guarded by Oracle.mu.
type membershipState struct {
	current *membership.Membership // nil before the ceremony fixes it
	// challenges are this oracle's outstanding challenges, single use.
	challenges map[[wire.NonceSize]byte]time.Time
	// retired are the hashes of the identity keys of every member of any
	// epoch this oracle has known: none may ever become a member again.
	retired map[[32]byte]bool
	// heard is when an authenticated message last came from each index
	// (Unix nanoseconds). It is atomic, not guarded by Oracle.mu, because
	// every opened envelope updates it.
	heard [wire.MaxSigners + 1]atomic.Int64
	// joined is the epoch in which each index's identity became a member.
	joined [wire.MaxSigners + 1]uint64
	// changes are the times of the changes this oracle committed.
	changes []time.Time
	// usedFloor is the highest ML-DSA session count the endorsers of this
	// oracle's admission reported; its share starts there.
	usedFloor uint64
}

// heardAll marks every index as heard at now (a new membership starts
// every silence clock afresh).
func (ms *membershipState) heardAll(now time.Time) {
	for i := range ms.heard {
		ms.heard[i].Store(now.UnixNano())
	}
}

func keysHash(k peer.PublicKeys) [32]byte { return sha256.Sum256(k.Marshal()) }

// epochID returns the digest of the membership this oracle currently
// works in (membership.Membership.Digest); all zero before the ceremony
// fixes it.
func (o *Oracle) epochID() [32]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch
}

// adoptLocked makes m the current membership (o.mu held).
func (o *Oracle) adoptLocked(m *membership.Membership) {
	ms := &o.ms
	ms.current = m
	o.epoch = m.Digest()
	clear(o.peers)
	for i, mem := range m.Members {
		ms.retired[keysHash(mem.Keys)] = true
		if uint8(i+1) != o.cfg.NodeID {
			o.peers[uint8(i+1)] = mem.Keys
		}
	}
}

// heardFrom records an authenticated message from node id.
func (o *Oracle) heardFrom(id uint8) {
	if id == 0 || id > wire.MaxSigners {
		return
	}
	o.ms.heard[id].Store(time.Now().UnixNano())
}

// claim returns the membership claim this oracle makes when asked with
// req: its own membership's, or the one it applies for.
func (o *Oracle) claim(req *wire.HelloRequest) *membership.Claim {
	c := &membership.Claim{Index: o.cfg.NodeID, Nodes: o.cfg.Nodes, Threshold: o.cfg.Threshold, Keys: o.identity.Public().Marshal()}
	o.mu.Lock()
	defer o.mu.Unlock()
	if m := o.ms.current; m != nil {
		c.Cluster, c.Epoch = m.Cluster, m.Epoch
	} else {
		c.Cluster, c.Epoch = req.Cluster, req.Epoch
	}
	return c
}

// Hello returns the oracle's identity and attestation evidence that binds
// its membership claim and the request's nonce.
func (o *Oracle) Hello(req *wire.HelloRequest) (*wire.Hello, error) {
	c := o.claim(req)
	h := &wire.Hello{NodeID: c.Index, Nodes: c.Nodes, Threshold: c.Threshold, Attestation: o.attestation(), Cluster: c.Cluster, Epoch: c.Epoch, Identity: c.Keys}
	if o.cfg.Attester != nil {
		ev, err := o.cfg.Attester.Evidence(c.Marshal(), req.Nonce)
		if err != nil {
			o.log.Error("attestation failed", "err", err)
			return nil, &wire.Error{Code: wire.CodeInternal, Message: "attestation: " + err.Error()}
		}
		h.Evidence = ev
	}
	return h, nil
}

// newChallenge returns a fresh challenge and remembers it.
func (o *Oracle) newChallenge() ([wire.NonceSize]byte, error) {
	var c [wire.NonceSize]byte
	if _, err := rand.Read(c[:]); err != nil {
		return c, &wire.Error{Code: wire.CodeInternal, Message: "randomness: " + err.Error()}
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	ms := &o.ms
	var oldest [wire.NonceSize]byte
	var oldestAt time.Time
	for v, at := range ms.challenges {
		if now.Sub(at) > challengeLifetime {
			delete(ms.challenges, v)
		} else if oldestAt.IsZero() || at.Before(oldestAt) {
			oldest, oldestAt = v, at
		}
	}
	if len(ms.challenges) >= maxChallenges {
		delete(ms.challenges, oldest)
	}
	ms.challenges[c] = now
	return c, nil
}

// takeChallenge finds this oracle's challenge among cs, checks it is
// outstanding and consumes it, and returns the round's nonce.
func (o *Oracle) takeChallenge(cs []wire.Challenge) ([wire.NonceSize]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range cs {
		if c.Node != o.cfg.NodeID {
			continue
		}
		at, ok := o.ms.challenges[c.Value]
		if !ok || time.Since(at) > challengeLifetime {
			break
		}
		delete(o.ms.challenges, c.Value)
		return membership.Nonce(cs), nil
	}
	return [wire.NonceSize]byte{}, &wire.Error{Code: wire.CodeRefused, Message: "the attestation round does not include an outstanding challenge of this oracle: evidence would not be fresh for it"}
}

// verifyHello checks a peer's Hello: its shape, attestation kind and
// evidence for nonce over its claim. It returns the member it describes.
func (o *Oracle) verifyHello(h *wire.Hello, nonce [wire.NonceSize]byte) (membership.Member, error) {
	if h.Nodes != o.cfg.Nodes || h.Threshold != o.cfg.Threshold {
		return membership.Member{}, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("node %d is configured %d-of-%d, this oracle %d-of-%d", h.NodeID, h.Threshold, h.Nodes, o.cfg.Threshold, o.cfg.Nodes)}
	}
	if h.Attestation != o.attestation() {
		return membership.Member{}, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("node %d attests with %v, this oracle requires %v", h.NodeID, h.Attestation, o.attestation())}
	}
	pk, err := peer.ParsePublicKeys(h.Identity)
	if err != nil {
		return membership.Member{}, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("node %d: %v", h.NodeID, err)}
	}
	m := membership.Member{Keys: pk}
	if o.cfg.Attester != nil {
		chip, err := o.cfg.Attester.VerifyPeer(h.Evidence, membership.ClaimOf(h).Marshal(), nonce)
		if err != nil {
			o.log.Warn("peer attestation refused", "peer", h.NodeID, "err", err)
			return membership.Member{}, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("node %d: attestation refused: %v", h.NodeID, err)}
		}
		m.Chip = chip
	}
	return m, nil
}

// Peers fixes the membership of epoch 0 from the key ceremony's
// attestation round: exactly one Hello per node index, each claiming that
// index, the zero cluster and epoch 0, attested for the nonce that the
// round's challenges combine, one of which this oracle contributed; no two
// identities or chips alike. Once a key share exists the membership
// changes only through the membership protocol, never through Peers.
func (o *Oracle) Peers(req *wire.PeersRequest) error {
	if o.whole != nil {
		return &wire.Error{Code: wire.CodeBadRequest, Message: "a single oracle has no peers"}
	}
	if len(req.Peers) != int(o.cfg.Nodes) {
		return &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("%d hellos for %d nodes", len(req.Peers), o.cfg.Nodes)}
	}
	if err := o.ceremonyOpen(); err != nil {
		return err
	}
	nonce, err := o.takeChallenge(req.Challenges)
	if err != nil {
		return err
	}
	members := make([]membership.Member, len(req.Peers))
	for i := range req.Peers {
		h := &req.Peers[i]
		if h.NodeID != uint8(i+1) || h.Cluster != ([32]byte{}) || h.Epoch != 0 {
			return &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("hello %d claims node %d of epoch %d: a ceremony needs nodes 1..%d applying for epoch 0", i+1, h.NodeID, h.Epoch, o.cfg.Nodes)}
		}
		if h.NodeID == o.cfg.NodeID {
			if !bytes.Equal(h.Identity, o.identity.Public().Marshal()) {
				return &wire.Error{Code: wire.CodeRefused, Message: "the hello given for this node is not this oracle's"}
			}
		}
		if members[i], err = o.verifyHello(h, nonce); err != nil {
			return err
		}
	}
	m, err := membership.Genesis(o.cfg.Nodes, o.cfg.Threshold, members, nonce)
	if err != nil {
		return &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.th != nil {
		return &wire.Error{Code: wire.CodeRefused, Message: "the membership is fixed: this oracle holds keys"}
	}
	o.adoptLocked(m)
	now := time.Now()
	o.ms.heardAll(now)
	o.log.Info("ceremony membership fixed", "nodes", len(members), "cluster", fmt.Sprintf("%x", m.Cluster[:8]), "attestation", o.attestation().String())
	return nil
}

// ceremonyOpen reports whether the ceremony's membership may still be
// (re)fixed: no key share exists and no key generation has produced one.
func (o *Oracle) ceremonyOpen() error {
	o.mu.Lock()
	th, cer := o.th, o.cer
	o.mu.Unlock()
	if th != nil {
		return &wire.Error{Code: wire.CodeRefused, Message: "the membership is fixed: this oracle holds keys; identities change only through the membership protocol"}
	}
	if cer != nil {
		cer.mu.Lock()
		defer cer.mu.Unlock()
		if cer.mldsaShare != nil || cer.ecdsaShare != nil || cer.mldsaDKG != nil || cer.ecdsaDKG != nil {
			return &wire.Error{Code: wire.CodeRefused, Message: "the membership is fixed: a key generation is under way"}
		}
	}
	return nil
}

// membershipStep runs one step of the membership protocol.
func (o *Oracle) membershipStep(req *wire.RelayRequest) (*wire.RelayResponse, error) {
	if len(req.Inbound) != 0 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "the membership protocol has no envelopes"}
	}
	switch req.Step {
	case memberStepChallenge:
		if len(req.Params) != 0 {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "a challenge has no parameters"}
		}
		c, err := o.newChallenge()
		if err != nil {
			return nil, err
		}
		return &wire.RelayResponse{Result: c[:]}, nil
	case memberStepEndorse, memberStepCommit:
		var mc wire.MemberChange
		if err := mc.Unmarshal(req.Params); err != nil {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
		}
		if req.Step == memberStepEndorse {
			return o.endorse(&mc)
		}
		return o.commit(&mc)
	}
	return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "the membership protocol has three steps"}
}

// member returns this oracle's current membership, or an error if it is
// not a member of one.
func (o *Oracle) member() (*membership.Membership, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ms.current == nil || o.th == nil {
		return nil, &wire.Error{Code: wire.CodeNotReady, Message: "this oracle is not a member holding keys"}
	}
	return o.ms.current, nil
}

// proposedChange builds the change mc describes from m and checks what
// every party checks: the joiner applies for index mc.Index of the next
// epoch of this cluster, with this configuration, and its identity is
// fresh. It returns the change, the next membership and its digest.
func (o *Oracle) proposedChange(m *membership.Membership, mc *wire.MemberChange, joiner membership.Member, nonce [wire.NonceSize]byte) (*membership.Change, *membership.Membership, [32]byte, error) {
	j := &mc.Joiner
	if j.NodeID != mc.Index || j.Cluster != m.Cluster || j.Epoch != m.Epoch+1 || mc.Index > m.Nodes {
		return nil, nil, [32]byte{}, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("the joiner claims node %d of epoch %d, the change is for node %d of epoch %d of this cluster", j.NodeID, j.Epoch, mc.Index, m.Epoch+1)}
	}
	o.mu.Lock()
	retired := o.ms.retired[keysHash(joiner.Keys)]
	full := len(o.ms.retired) >= maxRetired
	o.mu.Unlock()
	if retired {
		return nil, nil, [32]byte{}, &wire.Error{Code: wire.CodeRefused, Message: "the joiner's identity has been a member before: a new member needs a fresh identity"}
	}
	if full {
		return nil, nil, [32]byte{}, &wire.Error{Code: wire.CodeRefused, Message: "too many former members: run a new key ceremony"}
	}
	ch := &membership.Change{Cluster: m.Cluster, Epoch: m.Epoch, Index: mc.Index, Claim: membership.ClaimOf(j).Marshal(), Evidence: j.Evidence, Nonce: nonce, Chip: joiner.Chip}
	next, err := ch.Apply(m, joiner.Keys)
	if err != nil {
		return nil, nil, [32]byte{}, &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
	}
	return ch, next, ch.Digest(next), nil
}

// rateLimited reports whether this oracle has committed its quota of
// changes in the current window (o.mu held).
func (o *Oracle) rateLimitedLocked(now time.Time) error {
	window, quota := o.cfg.ChangeWindow, int(o.cfg.Nodes-o.cfg.Threshold)
	n := 0
	for _, t := range o.ms.changes {
		if now.Sub(t) < window {
			n++
		}
	}
	if n >= quota {
		return &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("%d membership changes in the last %v: no more until the window passes", n, window)}
	}
	return nil
}

// endorse checks a proposed change as a member and signs an endorsement.
// Besides proposedChange it checks that the joiner's evidence is fresh for
// a challenge this oracle contributed, that the replaced index has been
// silent for SilenceBeforeChange, that the change is within the rate limit,
// and that the joiner runs on a chip no other member runs on.
func (o *Oracle) endorse(mc *wire.MemberChange) (*wire.RelayResponse, error) {
	m, err := o.member()
	if err != nil {
		return nil, err
	}
	if mc.Index == o.cfg.NodeID {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle is alive: it does not endorse its own replacement"}
	}
	if len(mc.Endorsements) != 0 || len(mc.Members) != 0 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "an endorsement request carries no endorsements or members"}
	}
	now := time.Now()
	o.mu.Lock()
	silent := now.Sub(time.Unix(0, o.ms.heard[mc.Index].Load()))
	err = o.rateLimitedLocked(now)
	o.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if silent < o.cfg.SilenceBeforeChange {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("node %d was heard %v ago; it must be silent for %v before it is replaced", mc.Index, silent.Truncate(time.Millisecond), o.cfg.SilenceBeforeChange)}
	}
	nonce, err := o.takeChallenge(mc.Challenges)
	if err != nil {
		return nil, err
	}
	joiner, err := o.verifyHello(&mc.Joiner, nonce)
	if err != nil {
		return nil, err
	}
	_, _, digest, err := o.proposedChange(m, mc, joiner, nonce)
	if err != nil {
		return nil, err
	}
	k, err := o.keys()
	if err != nil {
		return nil, err
	}
	e, err := membership.Endorse(o.identity, o.cfg.NodeID, k.mldsa.SessionsUsed(), digest)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	b, err := e.Marshal()
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	o.log.Info("membership change endorsed", "node", mc.Index, "epoch", m.Epoch+1)
	return &wire.RelayResponse{Result: b}, nil
}

// commit moves this oracle to the next epoch once at least Threshold
// members of the current one endorsed the change. A member replaces the
// index's identity; the joiner first checks every current member's
// evidence itself, for a challenge it contributed, and then adopts the new
// membership, with the highest session count the endorsers report.
func (o *Oracle) commit(mc *wire.MemberChange) (*wire.RelayResponse, error) {
	o.mu.Lock()
	cur, th := o.ms.current, o.th
	o.mu.Unlock()
	var m *membership.Membership
	var nonce [wire.NonceSize]byte
	joining := false
	var verified map[uint8]bool
	switch {
	case cur != nil && th != nil:
		if mc.Index == o.cfg.NodeID {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle holds keys for this index: it is not being replaced"}
		}
		if len(mc.Members) != 0 {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "a member's commit carries no member hellos"}
		}
		m, nonce = cur, membership.Nonce(mc.Challenges)
	case cur == nil && th == nil && mc.Index == o.cfg.NodeID && bytes.Equal(mc.Joiner.Identity, o.identity.Public().Marshal()):
		joining = true
		var err error
		if nonce, err = o.takeChallenge(mc.Challenges); err != nil {
			return nil, err
		}
		if m, verified, err = o.membershipFromHellos(mc, nonce); err != nil {
			return nil, err
		}
	default:
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle is neither a member holding keys nor the joiner of this change"}
	}
	joiner := membership.Member{Keys: o.identity.Public()}
	if !joining {
		var err error
		if joiner, err = o.verifyHello(&mc.Joiner, nonce); err != nil {
			return nil, err
		}
	} else if o.cfg.Attester != nil {
		// The joiner's own chip, as its own evidence reports it.
		chip, err := o.cfg.Attester.VerifyPeer(mc.Joiner.Evidence, membership.ClaimOf(&mc.Joiner).Marshal(), nonce)
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle's own evidence: " + err.Error()}
		}
		joiner.Chip = chip
	}
	_, next, digest, err := o.proposedChange(m, mc, joiner, nonce)
	if err != nil {
		return nil, err
	}
	used, err := membership.CheckEndorsements(m, mc.Index, digest, mc.Endorsements)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
	}
	for _, e := range mc.Endorsements {
		if joining && !verified[e.Signer] {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("endorser %d gave no fresh evidence to this oracle", e.Signer)}
		}
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ms.current != cur || o.th != th {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "the membership changed meanwhile"}
	}
	if !joining {
		if err := o.rateLimitedLocked(now); err != nil {
			return nil, err
		}
	}
	o.adoptLocked(next)
	o.ms.joined[mc.Index] = next.Epoch
	o.ms.heard[mc.Index].Store(now.UnixNano())
	o.ms.changes = append(o.ms.changes, now)
	if len(o.ms.changes) > 64 {
		o.ms.changes = o.ms.changes[len(o.ms.changes)-64:]
	}
	if th != nil {
		th.mldsa.RestoreSessionCount(used)
	} else {
		o.ms.usedFloor = used
		o.ms.heardAll(now)
	}
	d := next.Digest()
	o.log.Info("membership changed", "node", mc.Index, "epoch", next.Epoch, "joining", joining)
	return &wire.RelayResponse{Result: d[:]}, nil
}

// membershipFromHellos rebuilds, for a joining oracle, the current
// membership from the members' Hellos: all claim one cluster and epoch and
// every index but the joiner's appears once. A Hello with evidence is
// verified for nonce and its index counted as verified; one without (a
// member that is down) is taken as given, which the caller accepts only
// because the endorsements, all from verified members, sign the whole next
// membership.
func (o *Oracle) membershipFromHellos(mc *wire.MemberChange, nonce [wire.NonceSize]byte) (*membership.Membership, map[uint8]bool, error) {
	if len(mc.Members) != int(o.cfg.Nodes)-1 {
		return nil, nil, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("%d member hellos, want %d", len(mc.Members), o.cfg.Nodes-1)}
	}
	verified := map[uint8]bool{}
	m := &membership.Membership{Cluster: mc.Members[0].Cluster, Epoch: mc.Members[0].Epoch, Nodes: o.cfg.Nodes, Threshold: o.cfg.Threshold, Members: make([]membership.Member, o.cfg.Nodes)}
	for _, h := range mc.Members {
		if h.NodeID == mc.Index || h.NodeID > o.cfg.Nodes || h.Cluster != m.Cluster || h.Epoch != m.Epoch {
			return nil, nil, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("member hello claims node %d of epoch %d", h.NodeID, h.Epoch)}
		}
		if len(h.Evidence) == 0 && o.cfg.Attester != nil {
			pk, err := peer.ParsePublicKeys(h.Identity)
			if err != nil {
				return nil, nil, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("node %d: %v", h.NodeID, err)}
			}
			m.Members[h.NodeID-1] = membership.Member{Keys: pk}
			continue
		}
		mem, err := o.verifyHello(&h, nonce)
		if err != nil {
			return nil, nil, err
		}
		m.Members[h.NodeID-1] = mem
		verified[h.NodeID] = true
	}
	// The replaced index's former holder is unknown to the joiner and
	// stays empty: Change.Apply puts the joiner there, and endorsements
	// sign the resulting membership.
	return m, verified, nil
}
