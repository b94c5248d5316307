package oracle

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
)

// RefreshRunMaxAge is how long an ECDSA share refresh that finished step 2
// but has not committed keeps its state: other members may have committed,
// and this one can still follow them when the coordinator delivers the last
// step. Until then no other refresh can start. A run that has not finished
// step 2 (no member can have committed) is abandoned after
// RefreshStartMaxAge. In both, the coordinator can repeat a step that
// failed in transit.
const (
	RefreshRunMaxAge   = time.Hour
	RefreshStartMaxAge = 2 * time.Minute
)

// MaxRefreshRuns bounds the refresh session ids remembered for one sharing
// (each started refresh of the current share; the set is cleared when a
// refresh commits). A session id is never reused on one sharing, so that
// messages of an aborted run cannot be mixed into a new one. An honest
// cluster starts a handful; past the bound step 1 is refused.
const MaxRefreshRuns = 256

// refreshRun is the one ECDSA share refresh in progress on this oracle.
type refreshRun struct {
	sid     [32]byte // relay session id
	ctx     [32]byte // relay context every step must carry
	phase   uint8    // last step completed
	busy    bool     // a step is running
	started time.Time
	r       *tecdsa.Refresh
}

// refreshStep runs one step of the ECDSA share refresh (wire.ProtoRefresh)
// among all members. Params: every node id, ascending (the refresh needs
// every holder of a share). Step 1 sends each member a share of a fresh
// zero sharing (encrypted to it) and broadcasts the Feldman commitments;
// step 2 checks what every member dealt and broadcasts the digest of the
// whole refresh; step 3 checks that every digest matches, installs the new
// share and erases the old one, and returns the digest. The public key does
// not change; a share of the previous sharing is useless with the new ones.
//
// The envelopes are bound to the relay context (protocol, session,
// parameters, membership epoch). A step refused before the protocol ran
// (a relay's doing: envelopes of another context, missing or duplicated
// messages) leaves the run where it was, so the coordinator can repeat it;
// a protocol failure on authenticated messages aborts the run and names the
// member whose signed message failed.
func (o *Oracle) refreshStep(req *wire.RelayRequest) (*wire.RelayResponse, error) {
	k, err := o.keys()
	if err != nil {
		return nil, err
	}
	if o.cfg.Nodes != tecdsa.Parties || len(req.Params) != int(o.cfg.Nodes) {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("a share refresh runs among all %d members", tecdsa.Parties)}
	}
	for i, id := range req.Params {
		if id != uint8(i+1) {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "refresh parameters: every node id, ascending"}
		}
	}
	if req.Step < 1 || req.Step > 3 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "the share refresh has three steps"}
	}
	// The context binds the sharing being refreshed, so that messages of a
	// run on another sharing (an earlier refresh, or a member that missed a
	// commit) are refused as out of context, blaming no one.
	share, _ := k.ecdsaState()
	ctx, err := o.relayContext(wire.ProtoRefresh, req.Session, req.Params, share.SharingDigest(), req.Params)
	if err != nil {
		return nil, err
	}
	run, err := k.claimRefresh(req.Session, req.Step, ctx)
	if err != nil {
		return nil, err
	}
	resp, done, err := o.refreshRunStep(k, run, req, ctx)
	k.releaseRefresh(run, req.Step, done, err)
	return resp, err
}

// claimRefresh claims step of the refresh session sid: step 1 starts it
// (refused while another refresh holds state, see RefreshRunMaxAge), a
// later step needs the session idle at the previous
// step with the same context.
func (k *thresholdKeys) claimRefresh(sid [32]byte, step uint8, ctx [32]byte) (*refreshRun, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	r := k.refresh
	if step == 1 {
		if r != nil && (r.busy || now.Sub(r.started) <= RefreshStartMaxAge || (r.phase == 2 && now.Sub(r.started) <= RefreshRunMaxAge)) {
			return nil, &wire.Error{Code: wire.CodeBusy, Message: fmt.Sprintf("a share refresh started %v ago is in progress", now.Sub(r.started).Round(time.Second))}
		}
		if k.refreshSeen[sid] {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: "share refresh session id already used on this sharing"}
		}
		if len(k.refreshSeen) >= MaxRefreshRuns {
			return nil, &wire.Error{Code: wire.CodeBusy, Message: fmt.Sprintf("%d share refreshes started on this sharing", len(k.refreshSeen))}
		}
		if r != nil && r.r != nil {
			r.r.Abort()
		}
		if k.refreshSeen == nil {
			k.refreshSeen = make(map[[32]byte]bool)
		}
		k.refreshSeen[sid] = true
		k.refresh = &refreshRun{sid: sid, ctx: ctx, busy: true, started: now}
		return k.refresh, nil
	}
	switch {
	case r == nil || r.sid != sid:
		return nil, &wire.Error{Code: wire.CodeUnknownSession, Message: "no such share refresh"}
	case r.busy:
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("share refresh step %d: a step is running", step)}
	case r.phase != step-1:
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("share refresh step %d is not expected (at step %d)", step, r.phase)}
	case r.ctx != ctx:
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "share refresh parameters changed within the session"}
	}
	r.busy = true
	return r, nil
}

// releaseRefresh ends a claimed step. A step that ran the protocol moves the
// run on (done) or, if it failed, aborts it; a step refused before the
// protocol ran leaves the run where it was.
func (k *thresholdKeys) releaseRefresh(run *refreshRun, step uint8, done bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	run.busy = false
	switch {
	case err == nil && step < 3:
		run.phase = step
	case err == nil || done:
		if err != nil && run.r != nil {
			run.r.Abort()
		}
		if k.refresh == run {
			k.refresh = nil
		}
	}
}

// refreshRunStep computes a claimed step. ran reports whether the protocol
// state machine was driven (so a failure is final).
func (o *Oracle) refreshRunStep(k *thresholdKeys, run *refreshRun, req *wire.RelayRequest, ctx [32]byte) (resp *wire.RelayResponse, ran bool, err error) {
	out := &outbox{o: o, kind: wire.EnvRefresh, keyID: k.keyID, sid: ctx, round: uint16(req.Step)}
	var in []inbound
	if req.Step > 1 {
		if in, err = o.openBound(req.Inbound, wire.EnvRefresh, k.keyID, ctx, uint16(req.Step-1)); err != nil {
			return nil, false, err
		}
		if err := o.checkFromEveryMember(in, "share refresh", true, req.Step == 2); err != nil {
			return nil, false, err
		}
	}
	switch req.Step {
	case 1:
		share, _ := k.ecdsaState()
		r, err := tecdsa.NewRefresh(tecdsa.RefreshConfig{Share: share, SessionID: ctx, EpochID: o.epochID(), Rand: rand.Reader})
		if err != nil {
			return nil, true, abortError(err)
		}
		run.r = r
		bc, directs, err := r.Round1()
		if err != nil {
			return nil, true, abortError(err)
		}
		out.add(peer.Broadcast, bc, false)
		for _, d := range directs {
			out.add(uint8(d.To), d, true)
			d.Zeroize()
		}
		resp, err := out.response(nil)
		return resp, true, err
	case 2:
		var bcs []*tecdsa.RefreshBroadcast
		var directs []*tecdsa.RefreshDirect
		defer func() {
			for _, d := range directs {
				d.Zeroize()
			}
		}()
		for _, m := range in {
			if m.direct {
				d := new(tecdsa.RefreshDirect)
				if err := d.UnmarshalBinary(m.data); err != nil || uint8(d.From) != m.from {
					run.r.Abort()
					return nil, true, culprit(m.from, "refresh share", fmt.Errorf("malformed or misattributed: %v", err))
				}
				directs = append(directs, d)
				continue
			}
			b := new(tecdsa.RefreshBroadcast)
			if err := b.UnmarshalBinary(m.data); err != nil || uint8(b.From) != m.from {
				run.r.Abort()
				return nil, true, culprit(m.from, "refresh commitments", fmt.Errorf("malformed or misattributed: %v", err))
			}
			bcs = append(bcs, b)
		}
		confirm, err := run.r.Round2(bcs, directs)
		if err != nil {
			return nil, true, abortError(err)
		}
		out.add(peer.Broadcast, confirm, false)
		resp, err := out.response(nil)
		return resp, true, err
	default:
		var confirms []*tecdsa.RefreshConfirm
		for _, m := range in {
			c := new(tecdsa.RefreshConfirm)
			if err := c.UnmarshalBinary(m.data); err != nil || uint8(c.From) != m.from {
				run.r.Abort()
				return nil, true, culprit(m.from, "refresh digest", fmt.Errorf("malformed or misattributed: %v", err))
			}
			confirms = append(confirms, c)
		}
		ns, err := run.r.Commit(confirms)
		if err != nil {
			return nil, true, abortError(err)
		}
		if err := k.installRefreshed(ns); err != nil {
			return nil, true, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
		d := run.r.Digest()
		o.log.Info("ECDSA key shares refreshed: the previous share is erased", "epoch", fmt.Sprintf("%x", o.epochID()), "digest", fmt.Sprintf("%x", d[:8]))
		resp, err := out.response(d[:])
		return resp, true, err
	}
}

// checkFromEveryMember checks that in is exactly one broadcast (if
// broadcast) and one direct message (if direct) from every other member,
// and nothing else. Anything else is the relay's doing (it chooses what to
// deliver), so the refusal names no culprit; the protocols below would
// otherwise name the sender of a missing message.
func (o *Oracle) checkFromEveryMember(in []inbound, what string, broadcast, direct bool) error {
	var bcs, directs [wire.MaxSigners + 1]int
	for _, m := range in {
		if m.direct {
			directs[m.from]++
		} else {
			bcs[m.from]++
		}
	}
	want := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	for id := uint8(1); id <= o.cfg.Nodes; id++ {
		if id == o.cfg.NodeID {
			continue
		}
		if bcs[id] != want(broadcast) || directs[id] != want(direct) {
			return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%s: %d broadcasts and %d direct messages from node %d (want %d and %d); no culprit", what, bcs[id], directs[id], id, want(broadcast), want(direct))}
		}
	}
	return nil
}

// installRefreshed makes ns (committed by a refresh, which erased the
// previous share) the ECDSA share. The Signer's successor keeps the
// remembered session ids and the bans; the previous sharing's
// presignatures and presigning runs are dropped.
func (k *thresholdKeys) installRefreshed(ns *tecdsa.KeyShare) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	next, err := k.signer.Successor(ns)
	if err != nil {
		return errors.Join(errors.New("installing the refreshed share"), err)
	}
	k.ecdsa, k.signer = ns, next
	k.refreshSeen = nil
	clear(k.presigs)
	k.runs.clearLocked()
	return nil
}
