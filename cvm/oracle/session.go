package oracle

import (
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"slices"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

var randRead = rand.Read

type sessionKind int

const (
	kindToken sessionKind = iota // a time-stamp token
	kindCSR                      // the certification requests of the ceremony
)

type stage int

const (
	stageBegun       stage = iota // ML-DSA rounds in progress
	stageMLDSASigned              // whole key: this oracle produced the signature
	stageAttached                 // Attach is running; the session ends with it
)

// session is one open signing session.
type session struct {
	id      wire.SessionID
	created time.Time
	kind    sessionKind
	stage   stage
	policy  wire.Policy
	certReq bool
	signers []uint8

	tstInfo  []byte
	mldsaMsg []byte // what ML-DSA signs: inner signed attributes, or the ML-DSA CSR info

	th *thSession // threshold state; nil in whole-key mode
}

func (s *session) abort() {
	if s.th != nil {
		s.th.abort()
	}
}

// checkSigners checks a signer set against this oracle's place.
func (o *Oracle) checkSigners(signers []uint8) error {
	if o.whole != nil {
		if len(signers) != 1 || signers[0] != 1 {
			return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("signer set %v: this oracle signs alone as node 1", signers)}
		}
		return nil
	}
	if len(signers) != int(o.cfg.Threshold) {
		return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("signer set %v: need exactly %d signers", signers, o.cfg.Threshold)}
	}
	if !slices.Contains(signers, o.cfg.NodeID) {
		return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("signer set %v does not include this node (%d)", signers, o.cfg.NodeID)}
	}
	if signers[len(signers)-1] > o.cfg.Nodes {
		return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("signer set %v names a node beyond %d", signers, o.cfg.Nodes)}
	}
	return nil
}

// Begin checks a proposal and opens a session.
func (o *Oracle) Begin(req *wire.BeginRequest) (*wire.BeginResponse, error) {
	r, err := o.readyReading()
	if err != nil {
		return nil, err
	}
	if err := o.checkSigners(req.Signers); err != nil {
		return nil, err
	}
	if err := checkProposalTime(&req.Proposal, r, o.cfg.MaxAccuracy); err != nil {
		msg := err.Error()
		if late := lateness(&req.Proposal, r); late > 0 {
			msg = fmt.Sprintf("%s%dµs: %s", wire.LateProposal, ceilMicros(late), msg)
		}
		return nil, &wire.Error{Code: wire.CodeRefused, Message: msg}
	}
	if err := checkSerial(&req.Proposal, req.Signers); err != nil {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
	}
	o.mu.Lock()
	mldsaRef := o.mldsaRef
	o.mu.Unlock()

	info := &tst.Info{Fields: req.Fields, Proposal: req.Proposal, TSAName: o.cfg.TSAName}
	tstInfo, err := tst.EncodeTSTInfo(info)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
	}
	attrs, err := tst.MLDSASignedAttrs(tstInfo, mldsaRef)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	s := &session{
		id: req.Session, kind: kindToken, stage: stageBegun,
		policy: req.Fields.Policy, certReq: req.Fields.CertReq, signers: slices.Clone(req.Signers),
		tstInfo: tstInfo, mldsaMsg: attrs,
	}
	// The session id and serial are remembered while this proposal could
	// pass the time check again (see replayRecord).
	if err := o.admit(s, req.Proposal.Serial, genTime(&req.Proposal).Add(o.cfg.MaxAccuracy), r); err != nil {
		return nil, err
	}
	resp := &wire.BeginResponse{TSTInfo: tstInfo, MLDSASignedAttrs: attrs}
	if o.whole == nil {
		var presign *wire.PresignID
		if req.Fields.Policy == wire.PolicyHybrid {
			presign = &req.Presign
		}
		if resp.Round1, err = o.beginThreshold(s, presign); err != nil {
			o.End(s.id)
			return nil, err
		}
	}
	return resp, nil
}

// admit records the session id and serial number until expires on this
// oracle's clock (refusing replays; r is the current reading) and registers
// the session.
func (o *Oracle) admit(s *session, serial []byte, expires time.Time, r clock.Reading) error {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expireLocked(now)
	if len(o.sessions) >= MaxSessions {
		return &wire.Error{Code: wire.CodeBusy, Message: "too many open sessions"}
	}
	if _, ok := o.sessions[s.id]; ok {
		return &wire.Error{Code: wire.CodeRefused, Message: "session id is in use"}
	}
	if err := o.seen.add(s.id, serial, expires, r); err != nil {
		return err
	}
	s.created = now
	o.sessions[s.id] = s
	return nil
}

// BeginCSR opens a session in which the signer set signs the TSA's two
// certification requests, one per threshold key. The oracle encodes both
// requests itself from its TSA name and public keys.
func (o *Oracle) BeginCSR(req *wire.BeginCSRRequest) (*wire.BeginResponse, error) {
	o.mu.Lock()
	th, st := o.th, o.state
	o.mu.Unlock()
	if th == nil || st == wire.StateStopping {
		return nil, &wire.Error{Code: wire.CodeNotReady, Message: "no threshold keys"}
	}
	if err := o.checkSigners(req.Signers); err != nil {
		return nil, err
	}
	espki, err := tst.ECDSAPublicKeyInfo(th.ecdsaPub)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	mspki, err := tst.MLDSAPublicKeyInfo(th.mldsaPub)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	ecsr, err := tst.CertificationRequestInfo(o.cfg.TSAName, espki)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	mcsr, err := tst.CertificationRequestInfo(o.cfg.TSAName, mspki)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	s := &session{id: req.Session, kind: kindCSR, stage: stageBegun, policy: wire.PolicyHybrid,
		signers: slices.Clone(req.Signers), tstInfo: ecsr, mldsaMsg: mcsr}
	// The serial slot of the replay record takes a value that can never
	// be a token serial (serials are positive): the session id itself. It
	// is remembered for as long as a session lives.
	r := o.cfg.Clock.Now()
	if err := o.admit(s, append([]byte{0x80}, req.Session[:]...), r.Time.Add(SessionLifetime), r); err != nil {
		return nil, err
	}
	resp := &wire.BeginResponse{TSTInfo: ecsr, MLDSASignedAttrs: mcsr}
	if resp.Round1, err = o.beginThreshold(s, &req.Presign); err != nil {
		o.End(s.id)
		return nil, err
	}
	return resp, nil
}

func (o *Oracle) expireLocked(now time.Time) {
	for id, s := range o.sessions {
		if now.Sub(s.created) > SessionLifetime {
			s.abort()
			o.dropSessionLocked(id)
		}
	}
}

func (o *Oracle) lookup(id wire.SessionID) (*session, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.sessions[id]
	if !ok || o.now().Sub(s.created) > SessionLifetime {
		if ok {
			s.abort()
		}
		o.dropSessionLocked(id)
		return nil, &wire.Error{Code: wire.CodeUnknownSession, Message: "no such session"}
	}
	return s, nil
}

// Round answers one round of a signature scheme.
func (o *Oracle) Round(req *wire.RoundRequest) (*wire.RoundResponse, error) {
	s, err := o.lookup(req.Session)
	if err != nil {
		return nil, err
	}
	var out []byte
	switch {
	case req.Scheme == wire.SchemeMLDSA65 && o.whole != nil:
		out, err = o.wholeMLDSARound(s, req)
	case req.Scheme == wire.SchemeMLDSA65:
		out, err = o.thresholdMLDSARound(s, req)
	case req.Scheme == wire.SchemeECDSA384:
		err = &wire.Error{Code: wire.CodeBadRequest, Message: "ECDSA has no rounds: each signer's contribution comes with its Attach response"}
	}
	if err != nil {
		return nil, err
	}
	return &wire.RoundResponse{Payload: o.roundFault(out)}, nil
}

func (o *Oracle) wholeMLDSARound(s *session, req *wire.RoundRequest) ([]byte, error) {
	if req.Round != 1 || len(req.Inbound) != 0 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("ML-DSA round %d with %d inbound messages: whole-key signing has one round and no inbound messages", req.Round, len(req.Inbound))}
	}
	o.mu.Lock()
	if s.stage != stageBegun {
		o.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "ML-DSA round 1 is not expected in this session"}
	}
	s.stage = stageMLDSASigned
	o.mu.Unlock()
	sig, err := o.whole.signMLDSA(s.mldsaMsg)
	if err != nil {
		o.log.Error("signing failed", "scheme", "ML-DSA-65", "err", err)
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "signing failed"}
	}
	return sig, nil
}

// verifyMLDSA checks a combined ML-DSA-65 signature over msg.
func (o *Oracle) verifyMLDSA(msg, sig []byte) bool {
	if o.whole != nil {
		return o.whole.verifyMLDSA(msg, sig)
	}
	o.mu.Lock()
	th := o.th
	o.mu.Unlock()
	return th != nil && th.mldsaPK.Verify(msg, nil, sig)
}

// Attach verifies the combined ML-DSA signature of a session and encodes the
// inner token and, for hybrid tokens, the outer signed attributes. For the
// CSR session it returns the complete ML-DSA certification request and the
// ECDSA one's CertificationRequestInfo.
func (o *Oracle) Attach(req *wire.AttachRequest) (*wire.AttachResponse, error) {
	s, err := o.lookup(req.Session)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	okStage := s.stage == stageMLDSASigned || (s.stage == stageBegun && s.th != nil)
	o.mu.Unlock()
	if !okStage {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "attach is not expected in this session"}
	}
	if !o.verifyMLDSA(s.mldsaMsg, req.MLDSASignature) {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "ML-DSA-65 signature does not verify over this session's signed attributes"}
	}
	resp := &wire.AttachResponse{}
	switch s.kind {
	case kindCSR:
		resp.InnerToken, err = tst.CertificationRequest(s.mldsaMsg, tst.OIDMLDSA65, req.MLDSASignature)
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
		resp.ECDSASignedAttrs = s.tstInfo // the ECDSA CertificationRequestInfo
	default:
		o.mu.Lock()
		ecdsaRef, mldsaRef := o.ecdsaRef, o.mldsaRef
		o.mu.Unlock()
		resp.InnerToken, err = tst.InnerToken(s.tstInfo, s.mldsaMsg, req.MLDSASignature, mldsaRef, s.certReq)
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
		if s.policy == wire.PolicyHybrid {
			resp.ECDSASignedAttrs, err = tst.ECDSASignedAttrs(s.tstInfo, resp.InnerToken, ecdsaRef)
			if err != nil {
				return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
			}
		}
	}
	o.mu.Lock()
	if s.stage == stageAttached {
		o.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "attach is not expected in this session"}
	}
	s.stage = stageAttached
	o.dropSessionLocked(s.id)
	o.mu.Unlock()
	// Outside o.mu, and in the background: a late round of another
	// attempt may hold the session's lock (while it looks up peer keys
	// under o.mu, or for the whole of its round 3), and the token need not
	// wait for it. No further ML-DSA round is accepted in this stage.
	if s.th != nil {
		go s.th.endMLDSA()
	}
	if resp.ECDSASignedAttrs != nil {
		// This signer's ECDSA contribution over the attributes it encoded
		// itself, now that it has checked the ML-DSA signature.
		if resp.ECDSA, err = o.signECDSA(s, resp.ECDSASignedAttrs); err != nil {
			s.abort()
			return nil, err
		}
		resp.ECDSA = o.roundFault(resp.ECDSA)
	}
	s.abort()
	return resp, nil
}

// signECDSA returns this signer's ECDSA P-384 contribution over msg: the
// online share envelope from the session's presignature (threshold mode,
// single use) or the whole signature (whole-key mode).
func (o *Oracle) signECDSA(s *session, msg []byte) ([]byte, error) {
	if o.whole != nil {
		sig, err := o.whole.signECDSA(msg)
		if err != nil {
			o.log.Error("signing failed", "scheme", "ECDSA P-384", "err", err)
			return nil, &wire.Error{Code: wire.CodeInternal, Message: "signing failed"}
		}
		return sig, nil
	}
	digest := sha512.Sum384(msg)
	return o.thresholdECDSAShare(s, digest[:])
}

// End discards a session.
func (o *Oracle) End(id wire.SessionID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s, ok := o.sessions[id]; ok {
		s.abort()
		o.dropSessionLocked(id)
	}
}
