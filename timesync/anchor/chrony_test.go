package anchor

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/internal/chronytest"
	"github.com/cc-tsa/cc-tsa/timesync/internal/testpki"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

// The whole pipeline against real chronyd NTS servers: two honest, one lying
// by +30 s under libfaketime. The liar is reported, the node's clock becomes
// trusted and its estimate agrees with the honest servers (the host clock).
func TestChronyPipelineOutvotesLiar(t *testing.T) {
	p := testpki.New(t)
	servers := []*chronytest.Server{
		chronytest.StartServer(t, p, "127.0.0.1", ""),
		chronytest.StartServer(t, p, "127.0.0.2", "+30s"),
		chronytest.StartServer(t, p, "127.0.0.3", ""),
	}
	mono := clock.RawMonotonic{}
	h, err := clock.NewHealth(clock.Config{AllowDevPlatform: true}, mono, &clock.Platform{Clocksource: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var srcs []Source
	for i, s := range servers {
		c, err := nts.NewClient(s.KEAddr, nts.ClientConfig{KEConfig: nts.KEConfig{Roots: p.Roots, CertTime: h.CertTime}, Now: h.Reference})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		srcs = append(srcs, Source{Name: []string{"honest-1", "liar", "honest-2"}[i], Client: c})
	}
	a, err := New(srcs, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	// chronyd answers NTP a moment after start-up; retry the first round.
	var rep *Report
	for i := 0; i < 20; i++ {
		if rep, err = a.SyncOnce(context.Background()); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if rep, err = a.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Falsetickers(), []string{"liar"}) {
		t.Fatalf("falsetickers %v", rep.Falsetickers())
	}
	for _, s := range rep.Sources {
		if s.Name == "liar" && (s.Sample.Offset < 29.9e9 || s.Sample.Offset > 30.1e9) {
			t.Fatalf("liar measured at %d ns", s.Sample.Offset)
		}
	}
	r := h.Read()
	if !r.Trusted() {
		t.Fatalf("not trusted: %s", r.Reason)
	}
	if d := r.Time - time.Now().UnixNano(); d > r.Error+5e6 || d < -r.Error-5e6 {
		t.Fatalf("estimate off by %d ns, error bound %d", d, r.Error)
	}
}
