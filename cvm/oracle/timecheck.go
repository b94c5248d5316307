package oracle

import (
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/timesync/crosscheck"
)

// timeCheckStep runs one step of a cross-node time-check round: probes to
// every peer (step 1), replies to the peers' probes (step 2), and the
// verdict from the peers' replies (step 3), which goes to the clock. The
// messages travel in signed envelopes, so the relaying coordinator cannot
// forge a peer's time claim. A round's verdict is given once: a step 3
// repeated (or run again without a new step 1) is refused, so that the
// coordinator cannot refresh the clock's peer evidence without a fresh
// exchange. The steps take no parameters.
func (o *Oracle) timeCheckStep(req *wire.RelayRequest) (*wire.RelayResponse, error) {
	cc := o.cfg.CrossCheck
	if cc == nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "this oracle runs no cross-node time check"}
	}
	if len(req.Params) != 0 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "the time check takes no parameters"}
	}
	if req.Step == 3 {
		if r := cc.Verdict().Round; r <= o.verdictRound.Load() {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("the verdict of time-check round %d was given: a new round starts with step 1", r)}
		}
	}
	epoch := o.epochID()
	out := &outbox{o: o, kind: wire.EnvTimeCheck, keyID: epoch, sid: req.Session, round: uint16(req.Step)}
	var in []inbound
	if req.Step > 1 {
		var err error
		if in, err = o.openInbound(req.Inbound, wire.EnvTimeCheck, epoch, req.Session, uint16(req.Step-1)); err != nil {
			return nil, err
		}
	}
	switch req.Step {
	case 1:
		for _, p := range cc.StartRound() {
			out.add(uint8(p.To), &p, false)
		}
		return out.response(nil)
	case 2:
		for _, m := range in {
			var p crosscheck.Probe
			if err := p.UnmarshalBinary(m.data); err != nil || uint8(p.From) != m.from || uint8(p.To) != o.cfg.NodeID {
				return nil, culprit(m.from, "time probe", fmt.Errorf("malformed or misaddressed"))
			}
			r, err := cc.HandleProbe(p)
			if err != nil {
				o.log.Warn("time probe refused", "peer", m.from, "err", err)
				continue
			}
			out.add(m.from, &r, false)
		}
		return out.response(nil)
	case 3:
		for _, m := range in {
			var r crosscheck.Reply
			if err := r.UnmarshalBinary(m.data); err != nil || uint8(r.From) != m.from {
				return nil, culprit(m.from, "time reply", fmt.Errorf("malformed or misaddressed"))
			}
			if err := cc.HandleReply(r); err != nil {
				o.log.Warn("time reply refused", "peer", m.from, "err", err)
			}
		}
		v := cc.Verdict()
		if last := o.verdictRound.Load(); v.Round <= last || !o.verdictRound.CompareAndSwap(last, v.Round) {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("the verdict of time-check round %d was given: a new round starts with step 1", v.Round)}
		}
		if o.cfg.OnVerdict != nil {
			o.cfg.OnVerdict(v.OK(), v.String())
		}
		ok := byte(0)
		if v.OK() {
			ok = 1
		}
		return out.response(append([]byte{ok}, v.String()...))
	}
	return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "the time check has three steps"}
}
