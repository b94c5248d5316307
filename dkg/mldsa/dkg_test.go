package mldsa

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

type edSigner struct{ k ed25519.PrivateKey }

func (s edSigner) SignTranscript(d []byte) ([]byte, error) { return ed25519.Sign(s.k, d), nil }

// dkgParties sets up n parties with ed25519 identity keys.
func dkgParties(t *testing.T, tt, n int) []DKGConfig {
	t.Helper()
	pubs := make([]ed25519.PublicKey, n)
	privs := make([]ed25519.PrivateKey, n)
	for i := range pubs {
		var err error
		if pubs[i], privs[i], err = ed25519.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(party int, d, sig []byte) bool {
		return party >= 0 && party < n && ed25519.Verify(pubs[party], d, sig)
	}
	var sid [32]byte
	rand.Read(sid[:])
	cfgs := make([]DKGConfig, n)
	for i := range cfgs {
		cfgs[i] = DKGConfig{T: tt, N: n, ID: i, SessionID: sid, Signer: edSigner{privs[i]}, Verify: verify}
	}
	return cfgs
}

// ceremony runs a full DKG; tamper (if not nil) may alter the messages of
// each round before delivery (round number, messages).
type ceremony struct {
	d       []*DKG
	commits []*DKGCommit
	seeds   []*DKGSeed
	reveals []*DKGReveal
	tcs     []*DKGTCommit
	trs     []*DKGTReveal
	cfs     []*DKGConfirm
}

func runDKG(t *testing.T, cfgs []DKGConfig, tamper func(c *ceremony, round int)) (*ceremony, []*KeyShare, []*PublicKey, error) {
	t.Helper()
	c := &ceremony{}
	for _, cfg := range cfgs {
		d, cm, seeds, err := NewDKG(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.d = append(c.d, d)
		c.commits = append(c.commits, cm)
		c.seeds = append(c.seeds, seeds...)
	}
	step := func(round int) {
		if tamper != nil {
			tamper(c, round)
		}
	}
	step(1)
	for i, d := range c.d {
		var mine []*DKGSeed
		for _, s := range c.seeds {
			if s.To == i {
				mine = append(mine, s)
			}
		}
		r, err := d.Round2(c.commits, mine)
		if err != nil {
			return c, nil, nil, err
		}
		c.reveals = append(c.reveals, r)
	}
	step(2)
	for _, d := range c.d {
		tc, err := d.Round3(c.reveals)
		if err != nil {
			return c, nil, nil, err
		}
		c.tcs = append(c.tcs, tc)
	}
	step(3)
	for _, d := range c.d {
		tr, err := d.Round4(c.tcs)
		if err != nil {
			return c, nil, nil, err
		}
		c.trs = append(c.trs, tr)
	}
	step(4)
	for _, d := range c.d {
		cf, err := d.Round5(c.trs)
		if err != nil {
			return c, nil, nil, err
		}
		c.cfs = append(c.cfs, cf)
	}
	step(5)
	var shares []*KeyShare
	var pks []*PublicKey
	var tr0 [64]byte
	for i, d := range c.d {
		ks, pk, tr, err := d.Finish(c.cfs)
		if err != nil {
			return c, nil, nil, err
		}
		if i == 0 {
			tr0 = tr
		} else if tr != tr0 {
			t.Fatal("parties disagree on the transcript hash")
		}
		shares = append(shares, ks)
		pks = append(pks, pk)
	}
	return c, shares, pks, nil
}

func TestDKGThenSign(t *testing.T) {
	for _, shape := range [][2]int{{3, 5}, {2, 3}, {4, 4}} {
		t.Run(fmt.Sprintf("%d-of-%d", shape[0], shape[1]), func(t *testing.T) {
			_, shares, pks, err := runDKG(t, dkgParties(t, shape[0], shape[1]), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, pk := range pks[1:] {
				if !pk.Equal(pks[0]) {
					t.Fatal("parties disagree on the public key")
				}
			}
			pk := pks[0]
			if len(pk.Bytes()) != PublicKeySize {
				t.Fatal("public key size")
			}
			cpk := circlPK(t, pk)
			sets := setsOf(shape[0], shape[1])
			if shape == [2]int{3, 5} || !testing.Short() {
				// every signer set for 3-of-5, a few otherwise
			} else {
				sets = sets[:1]
			}
			for _, signers := range sets {
				msg := []byte(fmt.Sprintf("dkg %v", signers))
				sig, _ := sign(t, pk, shares, signers, msg, nil)
				if !mldsa65.Verify(cpk, msg, nil, sig) {
					t.Fatalf("circl rejects a signature from DKG shares %v", signers)
				}
			}
		})
	}
}

func TestDKGAborts(t *testing.T) {
	cfgs := dkgParties(t, 3, 5)
	cases := []struct {
		name    string
		culprit int
		tamper  func(c *ceremony, round int)
	}{
		{"leader sends a different seed to one member", 0, func(c *ceremony, round int) {
			if round == 1 {
				for _, s := range c.seeds {
					if s.Sender == 0 && s.To == 3 && s.Mask == 0b01101 {
						s.Seed[0] ^= 1
					}
				}
			}
		}},
		{"missing seed", 1, func(c *ceremony, round int) {
			if round == 1 {
				var keep []*DKGSeed
				for _, s := range c.seeds {
					if !(s.Sender == 1 && s.To == 2) {
						keep = append(keep, s)
					}
				}
				c.seeds = keep
			}
		}},
		{"r does not match commitment", 2, func(c *ceremony, round int) {
			if round == 2 {
				c.reveals[2] = &DKGReveal{Sender: 2, R: [32]byte{1}}
			}
		}},
		{"duplicate reveal", 3, func(c *ceremony, round int) {
			if round == 2 {
				c.reveals[4] = c.reveals[3]
			}
		}},
		{"t commitment for a subset not led", 3, func(c *ceremony, round int) {
			if round == 3 {
				c.tcs[3] = &DKGTCommit{Sender: 3, Entries: []DKGTCommitEntry{{Mask: 0b00111}}}
			}
		}},
		{"t reveal does not match commitment", 1, func(c *ceremony, round int) {
			if round == 4 {
				e := c.trs[1].Entries[0]
				tt := append([]byte(nil), e.T...)
				tt[0] ^= 1
				c.trs[1] = &DKGTReveal{Sender: 1, Entries: append([]DKGTRevealEntry{{Mask: e.Mask, T: tt}}, c.trs[1].Entries[1:]...)}
			}
		}},
		{"t reveal of the wrong length", 0, func(c *ceremony, round int) {
			if round == 4 {
				e := c.trs[0].Entries[0]
				c.trs[0].Entries[0] = DKGTRevealEntry{Mask: e.Mask, T: e.T[:100]}
			}
		}},
		{"bad transcript signature", 4, func(c *ceremony, round int) {
			if round == 5 {
				sig := append([]byte(nil), c.cfs[4].Sig...)
				sig[3] ^= 1
				c.cfs[4] = &DKGConfirm{Sender: 4, Sig: sig}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := runDKG(t, cfgs, tc.tamper)
			wantAbort(t, err, tc.culprit)
		})
	}
}
