package attest

import (
	"errors"
	"strings"
	"testing"
)

// TestTCBFloorComponent checks that evidence below the floor in one
// component is refused with a *TCBError naming the TCB field, the
// component and both values, for every component, and that evidence at the
// floor passes.
func TestTCBFloorComponent(t *testing.T) {
	floor := TCB{BootLoader: 4, TEE: 1, SNP: 24, Microcode: 219}
	rd := testReportData("floor")
	for _, tc := range []struct {
		component string
		tcb       TCB
		got       uint8
		min       uint8
	}{
		{"bootloader", TCB{3, 1, 24, 219}, 3, 4},
		{"tee", TCB{4, 0, 24, 219}, 0, 1},
		{"snp", TCB{4, 1, 23, 219}, 23, 24},
		{"microcode", TCB{4, 1, 24, 218}, 218, 219},
	} {
		t.Run(tc.component, func(t *testing.T) {
			sim := newSim(t, func(c *SimulatedConfig) { c.TCB = tc.tcb })
			v := newVerifier(t, sim.Roots(), func(p *Policy) { p.MinimumTCB = floor })
			_, err := v.Verify(attest(t, sim, rd), rd)
			if !errors.Is(err, ErrTCB) {
				t.Fatalf("got %v, want ErrTCB", err)
			}
			var te *TCBError
			if !errors.As(err, &te) {
				t.Fatalf("%v is not a *TCBError", err)
			}
			if te.Field != "reported" || te.Component != tc.component || te.Got != tc.got || te.Min != tc.min || te.ProductLine != "Milan" {
				t.Fatalf("TCBError %+v, want reported %s %d < %d (Milan)", *te, tc.component, tc.got, tc.min)
			}
			for _, s := range []string{tc.component, "reported", "Milan"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
	sim := newSim(t, func(c *SimulatedConfig) { c.TCB = floor })
	v := newVerifier(t, sim.Roots(), func(p *Policy) { p.MinimumTCB = floor })
	rep, err := v.Verify(attest(t, sim, rd), rd)
	if err != nil {
		t.Fatalf("evidence at the floor refused: %v", err)
	}
	if rep.ProductLine != "Milan" {
		t.Fatalf("product line %q, want Milan", rep.ProductLine)
	}
}

// TestTCBFloorLaunch checks that the floor also applies to LAUNCH_TCB: a
// guest launched on older firmware is refused even if the platform has
// been updated since.
func TestTCBFloorLaunch(t *testing.T) {
	floor := TCB{BootLoader: 4, SNP: 24, Microcode: 219}
	rd := testReportData("launch")
	sim := newSim(t, func(c *SimulatedConfig) {
		c.TCB = floor
		c.LaunchTCB = &TCB{BootLoader: 4, SNP: 22, Microcode: 219}
	})
	v := newVerifier(t, sim.Roots(), func(p *Policy) { p.MinimumTCB = floor })
	_, err := v.Verify(attest(t, sim, rd), rd)
	var te *TCBError
	if !errors.As(err, &te) || te.Field != "launch" || te.Component != "snp" || te.Got != 22 || te.Min != 24 {
		t.Fatalf("got %v, want a launch TCB error for snp 22 < 24", err)
	}
}

// TestTCBFloorByProduct checks the per-product floors: the floor of the
// evidence's product line applies on top of MinimumTCB, and a product line
// without a floor is refused when per-product floors are configured.
func TestTCBFloorByProduct(t *testing.T) {
	rd := testReportData("product")
	sim := newSim(t, func(c *SimulatedConfig) { c.TCB = TCB{4, 0, 24, 219} })
	ev := attest(t, sim, rd)
	for _, tc := range []struct {
		name   string
		floors map[string]TCB
		ok     bool
	}{
		{"Milan floor met", map[string]TCB{"Milan": {4, 0, 24, 219}, "Genoa": {10, 0, 27, 88}}, true},
		{"Milan floor above", map[string]TCB{"Milan": {4, 0, 25, 219}, "Genoa": {0, 0, 0, 0}}, false},
		{"no Milan floor", map[string]TCB{"Genoa": {0, 0, 0, 0}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, sim.Roots(), func(p *Policy) { p.MinimumTCBByProduct = tc.floors })
			_, err := v.Verify(ev, rd)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok = %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrTCB) {
				t.Fatalf("got %v, want ErrTCB", err)
			}
		})
	}
	if _, err := NewVerifier(Policy{Roots: sim.Roots(), Measurement: testMeasurement(), MinimumTCBByProduct: map[string]TCB{"Milan": {SNP: 200}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("out-of-range product floor: %v, want ErrConfig", err)
	}
	if _, err := NewVerifier(Policy{Roots: sim.Roots(), Measurement: testMeasurement(), MinimumTCBByProduct: map[string]TCB{"Turin": {}}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("floor for a product line without roots: %v, want ErrConfig", err)
	}
}

// TestDefaultMinimumTCB checks that the default floors cover exactly the
// product lines of the AMD roots and are fresh copies.
func TestDefaultMinimumTCB(t *testing.T) {
	d := DefaultMinimumTCB()
	roots := mustAMDRoots(t)
	for _, line := range roots.ProductLines() {
		if _, ok := d[line]; !ok {
			t.Errorf("no default floor for %s", line)
		}
	}
	if len(d) != len(roots.ProductLines()) {
		t.Errorf("default floors for %v, roots for %v", d, roots.ProductLines())
	}
	d["Milan"] = TCB{}
	if DefaultMinimumTCB()["Milan"] == (TCB{}) {
		t.Error("DefaultMinimumTCB returns shared state")
	}
}

// TestParseTCB checks the strict TCB syntax used by the CLI.
func TestParseTCB(t *testing.T) {
	good := map[string]TCB{
		"bl=4,tee=0,snp=24,ucode=219":      {4, 0, 24, 219},
		"ucode=88,snp=27,tee=0,bl=10":      {10, 0, 27, 88},
		"bl=0,tee=0,snp=0,ucode=0":         {},
		"bl=127,tee=127,snp=127,ucode=255": {127, 127, 127, 255},
	}
	for s, want := range good {
		got, err := ParseTCB(s)
		if err != nil || got != want {
			t.Errorf("ParseTCB(%q) = %v, %v; want %v", s, got, err, want)
		}
		if again, err := ParseTCB(got.Flag()); err != nil || again != got {
			t.Errorf("ParseTCB(%q.Flag()) = %v, %v", s, again, err)
		}
	}
	for _, s := range []string{
		"", "bl=4", "bl=4,tee=0,snp=24", "bl=4,tee=0,snp=24,ucode=219,", "bl=4,tee=0,snp=24,ucode=219,bl=4",
		"bl=4,tee=0,snp=24,fmc=1", "bl=04,tee=0,snp=24,ucode=219", "bl=+4,tee=0,snp=24,ucode=219",
		"bl=-1,tee=0,snp=24,ucode=219", "bl=128,tee=0,snp=24,ucode=219", "bl=4,tee=0,snp=24,ucode=256",
		"bl=4, tee=0,snp=24,ucode=219", "bl=4,tee=0,snp=24,ucode=", "bl 4,tee=0,snp=24,ucode=219",
		"BL=4,tee=0,snp=24,ucode=219", "bl=4,,tee=0,snp=24,ucode=219", strings.Repeat("bl=4,", 100),
	} {
		if _, err := ParseTCB(s); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseTCB(%q): %v, want ErrConfig", s, err)
		}
	}
}

// FuzzParseTCB checks that ParseTCB never panics, fails only with
// ErrConfig, and that whatever it accepts round-trips through Flag.
func FuzzParseTCB(f *testing.F) {
	f.Add("bl=4,tee=0,snp=24,ucode=219")
	f.Add("ucode=88,snp=27,tee=0,bl=10")
	f.Add("bl=128,tee=0,snp=24,ucode=219")
	f.Fuzz(func(t *testing.T, s string) {
		tcb, err := ParseTCB(s)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if _, err := tcb.version(); err != nil {
			t.Fatalf("accepted %q, which does not encode: %v", s, err)
		}
		again, err := ParseTCB(tcb.Flag())
		if err != nil || again != tcb {
			t.Fatalf("%q: Flag round trip gives %v, %v", s, again, err)
		}
	})
}
