//go:build ccfault

package hostile

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

// This file is the generator-driven part of the hostile suite. A hostile
// coordinator records genuine requests of honest protocol runs it drives
// itself (every request type the coordinator sends) and derives mutants
// from them mechanically, by class:
//
//	replay     the genuine request again, to the same oracle, after it ran
//	relabel    the genuine request to another oracle
//	session    the twin run's session id (a second live run in the same state)
//	params     another signer set, batch size, pair, proposal or twin's params
//	step       another round or step number
//	protocol   another relayed protocol, same payload
//	mix        inbound messages of the twin run, of another step, of another protocol
//	readdress  an inbound message under another sender, or one addressed to another node
//	concurrent two copies of the genuine request at once
//
// Each mutant runs against a fresh honest state in which the genuine
// request is the next one expected (a replay, after it), and must be
// refused with a typed error of its class's codes that names no culprit:
// every byte it carries was signed correctly by an honest oracle, so the
// only one at fault is the relay. Requests that are stateless by design may
// be answered (see allowed): they yield only public data.

// classCodes are the refusal codes each mutation class may get.
var classCodes = map[string][]wire.ErrorCode{
	"replay":     {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnknownSession},
	"relabel":    {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnknownSession, wire.CodeUnauthenticated},
	"session":    {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnknownSession, wire.CodeUnauthenticated},
	"params":     {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnauthenticated},
	"step":       {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnknownSession, wire.CodeUnauthenticated},
	"protocol":   {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnknownSession, wire.CodeUnauthenticated, wire.CodeNotReady},
	"mix":        {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnauthenticated},
	"readdress":  {wire.CodeBadRequest, wire.CodeUnauthenticated, wire.CodeRefused},
	"concurrent": {wire.CodeBadRequest, wire.CodeRefused, wire.CodeUnknownSession},
}

// mutant is one derived request.
type mutant struct {
	class, desc string
	to          uint8
	msg         any
	answered    bool // set once it was answered (by design)
}

// endRequest is the payload of TypeEndRequest.
type endRequest wire.SessionID

// send sends one request of any type the coordinator sends.
func send(cl *oracleclient.Client, msg any) (any, error) {
	ctx := context.Background()
	switch m := msg.(type) {
	case *wire.ProposeRequest:
		return cl.Propose(ctx, m)
	case *wire.BeginRequest:
		return cl.Begin(ctx, m)
	case *wire.BeginCSRRequest:
		return cl.BeginCSR(ctx, m)
	case *wire.RoundRequest:
		return cl.Round(ctx, m)
	case *wire.AttachRequest:
		return cl.Attach(ctx, m)
	case endRequest:
		return nil, cl.End(ctx, wire.SessionID(m))
	case *wire.RelayRequest:
		return cl.Relay(ctx, m)
	case *wire.HelloRequest:
		return cl.Hello(ctx, m)
	case *wire.PeersRequest:
		return nil, cl.Peers(ctx, m)
	}
	panic(fmt.Sprintf("send: %T", msg))
}

func typeName(msg any) string {
	switch m := msg.(type) {
	case *wire.RelayRequest:
		return fmt.Sprintf("Relay(%v/%d)", m.Protocol, m.Step)
	case *wire.RoundRequest:
		return fmt.Sprintf("Round(%d)", m.Round)
	default:
		return strings.TrimPrefix(strings.TrimSuffix(fmt.Sprintf("%T", msg), "Request"), "*wire.")
	}
}

// gen runs mutants against a cluster and keeps count.
type gen struct {
	t     *testing.T
	c     *testtsa.Cluster
	cl    []*oracleclient.Client
	keyID [32]byte
	pk    *mldsa.PublicKey
	mp    mldsa.Params

	mu       sync.Mutex
	tried    map[string]int // by request type and class
	answered map[string]int // stateless requests answered by design
	codes    map[wire.ErrorCode]int
}

func newGen(t *testing.T, c *testtsa.Cluster) *gen {
	st := status(t, clients(c)[0])
	pk, err := mldsa.ParsePublicKey(st.MLDSAPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := mldsa.ParamsFor(3, 5)
	if err != nil {
		t.Fatal(err)
	}
	return &gen{t: t, c: c, cl: clients(c), keyID: wire.ClusterKeyID(st.MLDSAPublicKey, st.ECDSAPublicKey), pk: pk, mp: mp,
		tried: map[string]int{}, answered: map[string]int{}, codes: map[wire.ErrorCode]int{}}
}

// allowed reports whether an answer to m is by design: the request is
// stateless and its answer public (a proposal, a Hello, a challenge, a new
// time-check round, a time-check step that signs nothing, the end of a
// session), or it starts a presigning run or pair setup whose envelopes
// are bound to a context no honest peer shares
// (TestPresignDifferentSignerSets follows such a run through).
//
// The time check tolerates missing peers (a verdict needs Threshold − 1
// of them), so a step given fewer messages than the relay had is answered.
func allowed(mu mutant, resp any) bool {
	to := mu.to
	switch m := mu.msg.(type) {
	case *wire.ProposeRequest, endRequest:
		return true
	case *wire.HelloRequest:
		h := resp.(*wire.Hello)
		return h.NodeID == to // a member claims its own index whatever it is asked
	case *wire.RelayRequest:
		r := resp.(*wire.RelayResponse)
		switch {
		case m.Protocol == wire.ProtoMembership && m.Step == 1,
			m.Protocol == wire.ProtoTimeCheck && m.Step == 1:
			return true
		case m.Protocol == wire.ProtoTimeCheck && mu.desc == "one envelope left out":
			return true
		case m.Protocol == wire.ProtoTimeCheck && m.Step == 3:
			// A round's first verdict, given without the replies that
			// could make it positive: a negative verdict is a denial of
			// service the coordinator has anyway.
			return len(r.Result) > 0 && r.Result[0] == 0
		case m.Protocol == wire.ProtoTimeCheck && m.Step == 2:
			return len(r.Outbound) == 0 // stale or foreign probes are ignored: nothing signed
		case (m.Protocol == wire.ProtoECDSAPresign || m.Protocol == wire.ProtoPairSetup) && m.Step == 1:
			return true
		}
	}
	return false
}

// probe sends one mutant and checks the outcome; it reports whether the
// mutant was answered.
func (g *gen) probe(m mutant) bool {
	g.t.Helper()
	key := typeName(m.msg) + " " + m.class
	g.mu.Lock()
	g.tried[key]++
	g.mu.Unlock()
	resp, err := send(g.cl[m.to-1], m.msg)
	g.check(m, resp, err)
	return err == nil
}

func (g *gen) check(m mutant, resp any, err error) {
	g.t.Helper()
	key := typeName(m.msg) + " " + m.class
	if err == nil {
		if allowed(m, resp) {
			g.mu.Lock()
			g.answered[key]++
			g.mu.Unlock()
			return
		}
		g.t.Errorf("%s %s (%s) to node %d: accepted", typeName(m.msg), m.class, m.desc, m.to)
		return
	}
	var we *wire.Error
	if !errors.As(err, &we) {
		g.t.Errorf("%s %s (%s) to node %d: not a typed refusal: %v", typeName(m.msg), m.class, m.desc, m.to, err)
		return
	}
	g.mu.Lock()
	g.codes[we.Code]++
	g.mu.Unlock()
	if !slices.Contains(classCodes[m.class], we.Code) {
		g.t.Errorf("%s %s (%s) to node %d: code %v, want one of %v: %s", typeName(m.msg), m.class, m.desc, m.to, we.Code, classCodes[m.class], we.Message)
	}
	if namesCulprit(we.Message) {
		g.t.Errorf("%s %s (%s) to node %d: a relay-made refusal names a culprit: %s", typeName(m.msg), m.class, m.desc, m.to, we.Message)
	}
}

// report logs the counts.
func (g *gen) report() {
	var keys []string
	total, ans := 0, 0
	for k, n := range g.tried {
		keys = append(keys, k)
		total += n
		ans += g.answered[k]
	}
	sort.Strings(keys)
	for _, k := range keys {
		g.t.Logf("%-40s %4d tried, %3d answered by design", k, g.tried[k], g.answered[k])
	}
	g.t.Logf("%d mutants, %d refused (codes %v), %d answered by design", total, total-ans, g.codes, ans)
}

// --- signing sessions ---------------------------------------------------

// signRun is a signing session on set that the generator drives by hand.
type signRun struct {
	g       *gen
	sid     wire.SessionID
	set     []uint8
	f       wire.TokenFields
	prop    *wire.Proposal
	begin   *wire.BeginRequest
	presign wire.PresignID
	attrs   []byte             // the ML-DSA signed attributes every signer encoded
	envs    map[uint8][][]byte // round → envelopes by position in set
	reqs    map[uint8]map[uint8]*wire.RoundRequest
}

func (g *gen) newSign(set []uint8, hybrid bool) *signRun {
	g.t.Helper()
	s := &signRun{g: g, set: set, envs: map[uint8][][]byte{}, reqs: map[uint8]map[uint8]*wire.RoundRequest{}}
	rand.Read(s.sid[:])
	im := make([]byte, 32)
	rand.Read(im)
	s.f = wire.TokenFields{Policy: wire.PolicyMLDSA, HashAlg: wire.SHA256, Imprint: im}
	if hybrid {
		s.f.Policy = wire.PolicyHybrid
		s.presign = g.presignatures(set, 1)[0]
	}
	prop, err := g.cl[set[0]-1].Propose(context.Background(), &wire.ProposeRequest{Signers: set, Fields: s.f})
	if err != nil {
		g.t.Fatal(err)
	}
	s.prop = prop
	s.begin = &wire.BeginRequest{Session: s.sid, Signers: set, Fields: s.f, Proposal: *prop, Presign: s.presign}
	g.t.Cleanup(func() { s.end() })
	return s
}

// start sends the Begin requests. If the proposal went stale before the
// first Begin (the probes before it take time on a loaded machine), it
// proposes afresh, as the coordinator does with a late proposal.
func (s *signRun) start() {
	s.g.t.Helper()
	for i, id := range s.set {
		b, err := s.g.cl[id-1].Begin(context.Background(), s.begin)
		for retry := 0; i == 0 && retry < 3 && isLate(err); retry++ {
			prop, perr := s.g.cl[s.set[0]-1].Propose(context.Background(), &wire.ProposeRequest{Signers: s.set, Fields: s.f})
			if perr != nil {
				s.g.t.Fatal(perr)
			}
			s.prop, s.begin.Proposal = prop, *prop
			b, err = s.g.cl[id-1].Begin(context.Background(), s.begin)
		}
		if err != nil {
			s.g.t.Fatalf("begin on node %d: %v", id, err)
		}
		if s.attrs != nil && !bytes.Equal(s.attrs, b.MLDSASignedAttrs) {
			s.g.t.Fatalf("node %d encoded other signed attributes", id)
		}
		s.attrs = b.MLDSASignedAttrs
		s.envs[1] = append(s.envs[1], b.Round1)
	}
}

func (s *signRun) end() {
	for _, id := range s.set {
		s.g.cl[id-1].End(context.Background(), s.sid)
	}
}

// request is node to's genuine request for round r, as the coordinator
// sends it (its own message left out).
func (s *signRun) request(r, to uint8) *wire.RoundRequest {
	req := &wire.RoundRequest{Session: s.sid, Scheme: wire.SchemeMLDSA65, Round: r}
	if (r-1)%3 != 0 {
		for i, id := range s.set {
			p := s.envs[r-1][i]
			if id == to {
				p = nil
			}
			req.Inbound = append(req.Inbound, wire.RoundMessage{From: id, Payload: p})
		}
	}
	if s.reqs[r] == nil {
		s.reqs[r] = map[uint8]*wire.RoundRequest{}
	}
	s.reqs[r][to] = req
	return req
}

// advance runs round r honestly on every signer.
func (s *signRun) advance(r uint8) {
	s.g.t.Helper()
	s.envs[r] = nil
	for _, id := range s.set {
		resp, err := s.g.cl[id-1].Round(context.Background(), s.request(r, id))
		if err != nil {
			s.g.t.Fatalf("round %d on node %d: %v", r, id, err)
		}
		s.envs[r] = append(s.envs[r], resp.Payload)
	}
}

// sign runs attempts until one combines, and returns the signature.
func (s *signRun) sign() []byte {
	s.g.t.Helper()
	for a := uint8(0); a < oracle.MaxAttempts; a++ {
		base := 3 * a
		if a > 0 {
			s.advance(base + 1)
		}
		s.advance(base + 2)
		s.advance(base + 3)
		sig, err := s.combine(a)
		if err == nil {
			return sig
		}
		if !errors.Is(err, mldsa.ErrNoValidSlot) {
			s.g.t.Fatalf("combine: %v", err)
		}
	}
	s.g.t.Fatal("no ML-DSA attempt succeeded")
	return nil
}

func (s *signRun) combine(a uint8) ([]byte, error) {
	g := s.g
	mu, err := g.pk.Mu(s.attrs, nil)
	if err != nil {
		return nil, err
	}
	base := 3 * a
	dec := func(r uint8, i int, x interface{ UnmarshalBinary([]byte) error }) error {
		h := peer.Header{Kind: wire.EnvMLDSASign, KeyID: g.keyID, Session: wire.EnvelopeSession(s.sid), Round: uint16(r), Sender: s.set[i], Receiver: peer.Broadcast}
		p, err := peer.Decode(s.envs[r][i], h)
		if err != nil {
			return err
		}
		return x.UnmarshalBinary(p)
	}
	var cmts []*mldsa.Commitment
	var revs []*mldsa.Reveal
	var resps []*mldsa.Response
	for i := range s.set {
		c, rv, rs := new(mldsa.Commitment), new(mldsa.Reveal), new(mldsa.Response)
		if err := errors.Join(dec(base+1, i, c), dec(base+2, i, rv), dec(base+3, i, rs)); err != nil {
			return nil, err
		}
		cmts, revs, resps = append(cmts, c), append(revs, rv), append(resps, rs)
	}
	zero := make([]int, len(s.set))
	for i, id := range s.set {
		zero[i] = int(id) - 1
	}
	cfg := mldsa.SessionConfig{SessionID: wire.MLDSAAttemptID(s.sid, g.keyID, int(a)), Signers: zero, Mu: mu}
	return mldsa.CombineChecked(g.mp, g.pk, cfg, cmts, revs, resps)
}

// --- relayed protocols --------------------------------------------------

// relayRun is one relay session the generator drives by hand.
type relayRun struct {
	g      *gen
	proto  wire.Protocol
	sid    [32]byte
	nodes  []uint8
	params []byte
	out    map[uint8]map[uint8][][]byte // step → producer → envelopes
	res    map[uint8]map[uint8][]byte   // step → node → result
}

func (g *gen) newRelay(proto wire.Protocol, nodes []uint8, params []byte) *relayRun {
	r := &relayRun{g: g, proto: proto, nodes: nodes, params: params, out: map[uint8]map[uint8][][]byte{}, res: map[uint8]map[uint8][]byte{}}
	rand.Read(r.sid[:])
	return r
}

// inboundFor returns the envelopes of step's producers that an honest
// relay delivers to node to.
func (r *relayRun) inboundFor(step, to uint8) [][]byte {
	var in [][]byte
	for _, from := range r.nodes {
		for _, raw := range r.out[step][from] {
			var e peer.Envelope
			if err := e.Unmarshal(raw); err != nil {
				r.g.t.Fatal(err)
			}
			if from != to && (e.Receiver == to || e.Receiver == peer.Broadcast) {
				in = append(in, raw)
			}
		}
	}
	return in
}

// request is node to's genuine request for step.
func (r *relayRun) request(step, to uint8) *wire.RelayRequest {
	req := &wire.RelayRequest{Protocol: r.proto, Session: r.sid, Step: step, Params: slices.Clone(r.params)}
	if step > 1 {
		req.Inbound = r.inboundFor(step-1, to)
	}
	return req
}

// advance runs step honestly on every node.
func (r *relayRun) advance(step uint8) {
	r.g.t.Helper()
	r.out[step], r.res[step] = map[uint8][][]byte{}, map[uint8][]byte{}
	for _, id := range r.nodes {
		resp, err := r.g.cl[id-1].Relay(context.Background(), r.request(step, id))
		if err != nil {
			r.g.t.Fatalf("%v step %d on node %d: %v", r.proto, step, id, err)
		}
		r.out[step][id], r.res[step][id] = resp.Outbound, resp.Result
	}
}

// abandon ends the run on every node: a step with no inbound messages
// fails and removes a run in progress (the tables stay bounded by what
// the campaign leaves, not by the age limits).
func (r *relayRun) abandon(steps uint8) {
	if r.proto != wire.ProtoECDSAPresign && r.proto != wire.ProtoPairSetup {
		return
	}
	for s := uint8(2); s <= steps; s++ {
		for _, id := range r.nodes {
			r.g.cl[id-1].Relay(context.Background(), &wire.RelayRequest{Protocol: r.proto, Session: r.sid, Step: s, Params: r.params})
		}
	}
}

// presignatures makes n presignatures on set through the raw relay.
func (g *gen) presignatures(set []uint8, n int) []wire.PresignID {
	g.t.Helper()
	r := g.newRelay(wire.ProtoECDSAPresign, set, append(slices.Clone(set), byte(n)))
	for s := uint8(1); s <= 3; s++ {
		r.advance(s)
	}
	var ids []wire.PresignID
	for i := range n {
		ids = append(ids, wire.PresignBatchID(r.sid, i))
	}
	return ids
}

// sets returns every signer set of three of five nodes that holds id.
func sets(id uint8) [][]byte {
	var out [][]byte
	for a := uint8(1); a <= 5; a++ {
		for b := a + 1; b <= 5; b++ {
			for d := b + 1; d <= 5; d++ {
				if id == a || id == b || id == d {
					out = append(out, []byte{a, b, d})
				}
			}
		}
	}
	return out
}

func others(id uint8) []uint8 {
	var out []uint8
	for n := uint8(1); n <= 5; n++ {
		if n != id {
			out = append(out, n)
		}
	}
	return out
}

func clone[T any](p *T) *T { c := *p; return &c }

// --- derivation ---------------------------------------------------------

// deriveRound derives the mutants of node to's genuine ML-DSA round
// request g (run s), given a twin run in the same state.
func deriveRound(g *wire.RoundRequest, to uint8, s, twin *signRun) []mutant {
	var ms []mutant
	add := func(class, desc string, dst uint8, m *wire.RoundRequest) {
		ms = append(ms, mutant{class: class, desc: desc, to: dst, msg: m})
	}
	for _, n := range others(to) {
		add("relabel", fmt.Sprintf("to node %d", n), n, g)
	}
	m := clone(g)
	m.Session = twin.sid
	add("session", "twin's session id", to, m)
	for r := uint8(1); r <= 6; r++ {
		if r != g.Round {
			m := clone(g)
			m.Round = r
			add("step", fmt.Sprintf("round %d", r), to, m)
		}
	}
	m = clone(g)
	m.Scheme = wire.SchemeECDSA384
	add("protocol", "ECDSA scheme", to, m)
	m = clone(g)
	m.Inbound = twin.request(g.Round, to).Inbound
	add("mix", "twin's inbound", to, m)
	for r := uint8(2); r < g.Round; r++ {
		m := clone(g)
		m.Inbound = s.request(r, to).Inbound
		add("mix", fmt.Sprintf("round %d's inbound", r), to, m)
	}
	// Re-addressed: two other senders' messages swapped, another's
	// message in this oracle's own slot, one sender left out.
	var otherPos []int
	for i, in := range g.Inbound {
		if in.From != to {
			otherPos = append(otherPos, i)
		}
	}
	if len(otherPos) >= 2 {
		m := clone(g)
		m.Inbound = slices.Clone(g.Inbound)
		i, j := otherPos[0], otherPos[1]
		m.Inbound[i].Payload, m.Inbound[j].Payload = g.Inbound[j].Payload, g.Inbound[i].Payload
		add("readdress", "two senders' messages swapped", to, m)
	}
	for i, in := range g.Inbound {
		if in.From == to && len(otherPos) > 0 {
			m := clone(g)
			m.Inbound = slices.Clone(g.Inbound)
			m.Inbound[i].Payload = g.Inbound[otherPos[0]].Payload
			add("readdress", "another's message as this oracle's own", to, m)
		}
	}
	if len(g.Inbound) > 0 {
		m = clone(g)
		m.Inbound = slices.Delete(slices.Clone(g.Inbound), otherPos[0], otherPos[0]+1)
		add("readdress", "one sender left out", to, m)
	}
	return ms
}

// deriveRelay derives the mutants of node to's genuine relay request g
// (run r), given a twin run in the same state, candidate params and the
// inbound envelopes of runs of other protocols.
func deriveRelay(g *wire.RelayRequest, to uint8, r, twin *relayRun, params [][]byte, maxStep uint8, foreign map[wire.Protocol][][]byte) []mutant {
	var ms []mutant
	add := func(class, desc string, dst uint8, m *wire.RelayRequest) {
		ms = append(ms, mutant{class: class, desc: desc, to: dst, msg: m})
	}
	for _, n := range others(to) {
		add("relabel", fmt.Sprintf("to node %d", n), n, g)
	}
	if twin != nil {
		m := clone(g)
		m.Session = twin.sid
		add("session", "twin's session id", to, m)
	}
	for _, p := range params {
		if !bytes.Equal(p, g.Params) {
			m := clone(g)
			m.Params = p
			add("params", fmt.Sprintf("params %v", p), to, m)
		}
	}
	for s := uint8(1); s <= maxStep+1; s++ {
		if s != g.Step {
			m := clone(g)
			m.Step = s
			add("step", fmt.Sprintf("step %d", s), to, m)
		}
	}
	for p := wire.ProtoMLDSADKG; p <= wire.ProtoMembership; p++ {
		if p != g.Protocol {
			m := clone(g)
			m.Protocol = p
			add("protocol", p.String(), to, m)
		}
	}
	if g.Step > 1 {
		if twin != nil {
			m := clone(g)
			m.Inbound = twin.request(g.Step, to).Inbound
			add("mix", "twin's inbound", to, m)
		}
		for s := uint8(2); s < g.Step; s++ {
			m := clone(g)
			m.Inbound = r.request(s, to).Inbound
			add("mix", fmt.Sprintf("step %d's inbound", s), to, m)
		}
		for p, in := range foreign {
			if p != g.Protocol && len(in) > 0 {
				m := clone(g)
				m.Inbound = in
				add("mix", p.String()+" inbound", to, m)
			}
		}
		// Re-addressed: an envelope of the previous step meant for
		// another node in place of one for this node; one left out; one
		// twice.
		var elsewhere [][]byte
		for _, from := range r.nodes {
			for _, raw := range r.out[g.Step-1][from] {
				var e peer.Envelope
				if e.Unmarshal(raw) == nil && e.Receiver != to && e.Receiver != peer.Broadcast && from != to {
					elsewhere = append(elsewhere, raw)
				}
			}
		}
		if len(g.Inbound) > 0 {
			for i, raw := range elsewhere {
				if i >= 2 {
					break
				}
				m := clone(g)
				m.Inbound = slices.Clone(g.Inbound)
				m.Inbound[0] = raw
				add("readdress", "an envelope for another node", to, m)
			}
			m := clone(g)
			m.Inbound = g.Inbound[1:]
			add("readdress", "one envelope left out", to, m)
			m = clone(g)
			m.Inbound = append(slices.Clone(g.Inbound), g.Inbound[0])
			add("readdress", "one envelope twice", to, m)
			if raw := resender(g.Inbound[0], to); raw != nil {
				m = clone(g)
				m.Inbound = slices.Clone(g.Inbound)
				m.Inbound[0] = raw
				add("readdress", "sender relabelled in the envelope header", to, m)
			}
		}
	}
	return ms
}

// resender returns raw with its header claiming another sender (neither
// the real one nor to), or nil.
func resender(raw []byte, to uint8) []byte {
	var e peer.Envelope
	if e.Unmarshal(raw) != nil {
		return nil
	}
	for _, n := range others(to) {
		if n != e.Sender {
			e.Sender = n
			b, err := e.Marshal()
			if err != nil {
				return nil
			}
			return b
		}
	}
	return nil
}

// isLate reports whether err is an oracle's refusal of a proposal that
// went stale in transit.
func isLate(err error) bool {
	var we *wire.Error
	if !errors.As(err, &we) {
		return false
	}
	_, late := wire.ParseLateProposal(we.Message)
	return late
}
