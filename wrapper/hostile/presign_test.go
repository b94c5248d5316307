//go:build ccfault

package hostile

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

// relayer is a programmable malicious coordinator: it drives one relay
// session step by step, giving each node the parameters it chooses and
// routing (or withholding) envelopes as it likes.
type relayer struct {
	t     *testing.T
	cl    []*oracleclient.Client
	proto wire.Protocol
	sid   [32]byte
}

func newRelayer(t *testing.T, c *testtsa.Cluster, proto wire.Protocol) *relayer {
	r := &relayer{t: t, cl: clients(c), proto: proto}
	rand.Read(r.sid[:])
	return r
}

// step runs one step on every node of params (node id → its params)
// concurrently, with inbound[id] as node id's inbound envelopes, and
// returns each node's outbound envelopes and error.
func (r *relayer) step(step uint8, params map[uint8][]byte, inbound map[uint8][][]byte) (map[uint8][][]byte, map[uint8]error) {
	var mu sync.Mutex
	outs, errs := map[uint8][][]byte{}, map[uint8]error{}
	var wg sync.WaitGroup
	for id, p := range params {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := r.cl[id-1].Relay(context.Background(), &wire.RelayRequest{Protocol: r.proto, Session: r.sid, Step: step, Params: p, Inbound: inbound[id]})
			mu.Lock()
			defer mu.Unlock()
			errs[id] = err
			if err == nil {
				outs[id] = resp.Outbound
			}
		}()
	}
	wg.Wait()
	return outs, errs
}

// route delivers envelopes as an honest relay would: broadcasts to every
// other node of the session, direct ones to their receiver.
func route(t *testing.T, nodes []uint8, outs map[uint8][][]byte) map[uint8][][]byte {
	t.Helper()
	in := map[uint8][][]byte{}
	for _, envs := range outs {
		for _, raw := range envs {
			var e peer.Envelope
			if err := e.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
			for _, n := range nodes {
				if n != e.Sender && (e.Receiver == peer.Broadcast || e.Receiver == n) {
					in[n] = append(in[n], raw)
				}
			}
		}
	}
	return in
}

func mustOK(t *testing.T, errs map[uint8]error) {
	t.Helper()
	for id, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", id, err)
		}
	}
}

// noBans checks that no oracle of the cluster has banned anyone.
func noBans(t *testing.T, c *testtsa.Cluster) {
	t.Helper()
	for i, cl := range clients(c) {
		st, err := cl.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Banned) != 0 {
			t.Fatalf("node %d bans %v", i+1, st.Banned)
		}
	}
}

// issueToken requests a hybrid token through the cluster's honest
// coordinator and verifies it.
func issueToken(t *testing.T, c *testtsa.Cluster) {
	t.Helper()
	data := make([]byte, 32)
	rand.Read(data)
	d := sha512.Sum384(data)
	q, err := rfc3161.EncodeRequest(&rfc3161.Request{HashAlg: wire.SHA384, Imprint: d[:], Nonce: []byte{0x42}, CertReq: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(c.HTTP.URL, "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	opts := c.Options()
	opts.Data, opts.RequirePQ = data, true
	res, err := tsverify.VerifyResponse(body, opts)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if !res.ECDSA || !res.MLDSA {
		t.Fatalf("token signatures: ECDSA %v, ML-DSA %v", res.ECDSA, res.MLDSA)
	}
}

// presignEverySet makes one presignature on every signer set through the
// raw relay, honestly, and fails the test if any set fails.
func presignEverySet(t *testing.T, c *testtsa.Cluster) {
	t.Helper()
	for a := uint8(1); a <= 5; a++ {
		for b := a + 1; b <= 5; b++ {
			for d := b + 1; d <= 5; d++ {
				set := []uint8{a, b, d}
				if err := honestPresign(t, c, set, 1); err != nil {
					t.Fatalf("presigning on %v: %v", set, err)
				}
			}
		}
	}
}

// honestPresign runs a presigning relay session honestly and returns the
// first failure.
func honestPresign(t *testing.T, c *testtsa.Cluster, set []uint8, n byte) error {
	t.Helper()
	r := newRelayer(t, c, wire.ProtoECDSAPresign)
	params := map[uint8][]byte{}
	for _, id := range set {
		params[id] = append(append([]byte(nil), set...), n)
	}
	var in map[uint8][][]byte
	for s := uint8(1); s <= 3; s++ {
		outs, errs := r.step(s, params, in)
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		in = route(t, set, outs)
	}
	return nil
}

// TestPresignDifferentSignerSets: the relay gives nodes 1 and 2 different
// signer sets under one session id. Formerly node 1 banned node 2 for good
// (its honest RVOLE message failed node 1's OT-extension check); now the
// envelopes of the two contexts do not match, step 2 is refused naming no
// culprit, no one is banned, and tokens still issue.
func TestPresignDifferentSignerSets(t *testing.T) {
	c := cluster(t)
	r := newRelayer(t, c, wire.ProtoECDSAPresign)
	params := map[uint8][]byte{1: {1, 2, 3, 1}, 3: {1, 2, 3, 1}, 2: {1, 2, 4, 1}, 4: {1, 2, 4, 1}}
	outs, errs := r.step(1, params, nil)
	mustOK(t, errs)
	in := route(t, []uint8{1, 2, 3, 4}, outs)
	_, errs = r.step(2, params, in)
	for id, err := range errs {
		we := refused(t, err, wire.CodeRefused, wire.CodeUnauthenticated, wire.CodeBadRequest)
		if namesCulprit(we.Message) {
			t.Errorf("node %d names a culprit for a relay-made mismatch: %v", id, we)
		}
	}
	noBans(t, c)
	presignEverySet(t, c)
	issueToken(t, c)
}

// TestPresignDifferentBatchSizes: the same with one signer set but a
// different batch size for node 1.
func TestPresignDifferentBatchSizes(t *testing.T) {
	c := cluster(t)
	r := newRelayer(t, c, wire.ProtoECDSAPresign)
	params := map[uint8][]byte{1: {1, 2, 3, 2}, 2: {1, 2, 3, 1}, 3: {1, 2, 3, 1}}
	outs, errs := r.step(1, params, nil)
	mustOK(t, errs)
	_, errs = r.step(2, params, route(t, []uint8{1, 2, 3}, outs))
	for id, err := range errs {
		if we := refused(t, err, wire.CodeRefused, wire.CodeUnauthenticated); namesCulprit(we.Message) {
			t.Errorf("node %d names a culprit: %v", id, we)
		}
	}
	noBans(t, c)
	if err := honestPresign(t, c, []uint8{1, 2, 3}, 2); err != nil {
		t.Fatal(err)
	}
	issueToken(t, c)
}

// TestPresignReplayedAndReorderedSteps: a step repeated, a step skipped
// and a previous step's envelopes delivered again are refused; the honest
// run then still completes.
func TestPresignReplayedAndReorderedSteps(t *testing.T) {
	c := cluster(t)
	set := []uint8{1, 2, 3}
	r := newRelayer(t, c, wire.ProtoECDSAPresign)
	params := map[uint8][]byte{1: {1, 2, 3, 1}, 2: {1, 2, 3, 1}, 3: {1, 2, 3, 1}}
	out1, errs := r.step(1, params, nil)
	mustOK(t, errs)
	in1 := route(t, set, out1)
	// Step 3 before step 2, and step 1 again: refused.
	_, errs = r.step(3, map[uint8][]byte{1: params[1]}, map[uint8][][]byte{1: in1[1]})
	refused(t, errs[1], wire.CodeBadRequest)
	_, errs = r.step(1, map[uint8][]byte{1: params[1]}, nil)
	refused(t, errs[1], wire.CodeRefused, wire.CodeUnauthenticated)
	out2, errs := r.step(2, params, in1)
	mustOK(t, errs)
	// Step 2 replayed after it ran: refused, not computed twice.
	_, errs = r.step(2, map[uint8][]byte{2: params[2]}, map[uint8][][]byte{2: in1[2]})
	refused(t, errs[2], wire.CodeBadRequest)
	// Step 3 given the step-1 envelopes (a reordered round): refused with
	// no culprit; node 1's run is aborted, the others finish.
	_, errs = r.step(3, map[uint8][]byte{1: params[1]}, map[uint8][][]byte{1: in1[1]})
	if we := refused(t, errs[1], wire.CodeRefused, wire.CodeUnauthenticated); namesCulprit(we.Message) {
		t.Errorf("reordered round names a culprit: %v", we)
	}
	in2 := route(t, set, out2)
	_, errs = r.step(3, map[uint8][]byte{2: params[2], 3: params[3]}, in2)
	mustOK(t, errs)
	noBans(t, c)
	issueToken(t, c)
}

// TestPresignConcurrentDuplicateStep2: many concurrent copies of one
// node's step 2 (run under -race): exactly one computes, the rest are
// refused, and the session still completes.
func TestPresignConcurrentDuplicateStep2(t *testing.T) {
	c := cluster(t)
	set := []uint8{1, 2, 3}
	r := newRelayer(t, c, wire.ProtoECDSAPresign)
	params := map[uint8][]byte{1: {1, 2, 3, 1}, 2: {1, 2, 3, 1}, 3: {1, 2, 3, 1}}
	out1, errs := r.step(1, params, nil)
	mustOK(t, errs)
	in1 := route(t, set, out1)
	const copies = 6
	var wg sync.WaitGroup
	results := make([]*wire.RelayResponse, copies)
	failures := make([]error, copies)
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], failures[i] = r.cl[0].Relay(context.Background(), &wire.RelayRequest{Protocol: r.proto, Session: r.sid, Step: 2, Params: params[1], Inbound: in1[1]})
		}()
	}
	wg.Wait()
	var won *wire.RelayResponse
	for i := range copies {
		if failures[i] == nil {
			if won != nil {
				t.Fatal("step 2 computed twice")
			}
			won = results[i]
			continue
		}
		refused(t, failures[i], wire.CodeBadRequest)
	}
	if won == nil {
		t.Fatal("no copy of step 2 ran")
	}
	out2, errs := r.step(2, map[uint8][]byte{2: params[2], 3: params[3]}, in1)
	mustOK(t, errs)
	out2[1] = won.Outbound
	_, errs = r.step(3, params, route(t, set, out2))
	mustOK(t, errs)
	noBans(t, c)
}

// TestPresignFloodBounded: a flood of step-1 relays with fresh session ids
// never grows an oracle beyond oracle.MaxPresignRuns runs (the rest are
// CodeBusy); the runs age out with injected time, and signing works after.
// (The pruning of remembered session ids and expired presignatures is
// shown deterministically in dkg/ecdsa TestSeenSessionsPruned.)
func TestPresignFloodBounded(t *testing.T) {
	c := cluster(t)
	o := c.Oracles[0]
	busy := 0
	for range oracle.MaxPresignRuns + 8 {
		r := newRelayer(t, c, wire.ProtoECDSAPresign)
		_, errs := r.step(1, map[uint8][]byte{1: {1, 2, 3, 1}}, nil)
		if errs[1] != nil {
			refused(t, errs[1], wire.CodeBusy)
			busy++
		}
	}
	if got := o.PresignCounts().Runs; got > oracle.MaxPresignRuns {
		t.Fatalf("%d runs held, limit %d", got, oracle.MaxPresignRuns)
	}
	if busy < 8 {
		t.Fatalf("%d relays refused as busy, want at least 8", busy)
	}
	for _, o := range c.Oracles {
		o.AdvancePresignClock(oracle.PresignRunMaxAge + time.Second)
	}
	// The honest coordinator's pool refill may open a run of its own
	// meanwhile; the flood's runs are gone, so there is room again.
	if got := o.PresignCounts().Runs; got >= oracle.MaxPresignRuns {
		t.Fatalf("%d runs left after they aged out", got)
	}
	if _, errs := newRelayer(t, c, wire.ProtoECDSAPresign).step(1, map[uint8][]byte{1: {1, 2, 3, 1}}, nil); errs[1] != nil {
		t.Fatalf("a fresh run after the flood aged out: %v", errs[1])
	}
	issueToken(t, c)
	if got := o.PresignCounts(); got.SessionIDs > oracle.MaxPresignSessionIDs || got.Presignatures > oracle.MaxPresignatures {
		t.Fatalf("counts beyond their limits: %+v", got)
	}
}

// TestPairSetupLastStepOneSide: a pair setup whose step 6 reaches node 5
// only. Presigning between nodes 1 and 5 then fails without a ban (the two
// hold different pair ids); a rerun of the pair setup recovers.
func TestPairSetupLastStepOneSide(t *testing.T) {
	c := cluster(t)
	pair := []uint8{1, 5}
	run := func(lastTo []uint8) {
		r := newRelayer(t, c, wire.ProtoPairSetup)
		params := map[uint8][]byte{1: {1, 5}, 5: {1, 5}}
		var in map[uint8][][]byte
		for s := uint8(1); s <= 5; s++ {
			outs, errs := r.step(s, params, in)
			mustOK(t, errs)
			in = route(t, pair, outs)
		}
		last := map[uint8][]byte{}
		for _, id := range lastTo {
			last[id] = params[id]
		}
		_, errs := r.step(6, last, in)
		mustOK(t, errs)
	}
	run([]uint8{5})
	err := honestPresign(t, c, []uint8{1, 2, 5}, 1)
	if err == nil {
		t.Fatal("presigning across mismatched pair setups succeeded")
	}
	if we := refused(t, err, wire.CodeRefused, wire.CodeUnauthenticated); namesCulprit(we.Message) {
		t.Errorf("pair mismatch names a culprit: %v", we)
	}
	noBans(t, c)
	run([]uint8{1, 5})
	if err := honestPresign(t, c, []uint8{1, 2, 5}, 1); err != nil {
		t.Fatalf("after the rerun: %v", err)
	}
	noBans(t, c)
	issueToken(t, c)
}

// namesCulprit reports whether an oracle's refusal names a culprit.
func namesCulprit(msg string) bool { return bytes.Contains([]byte(msg), []byte("culprit node")) }
