package ecdsa

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/rvole"
)

func randomPoint() [p384.PointSize]byte {
	s, _ := p384.NewScalar().RandomNonZero(rand.Reader)
	var out [p384.PointSize]byte
	copy(out[:], p384.BaseMul(s).Bytes())
	return out
}

// shiftPoint returns the encoding of P + sign·D for a fixed point D
// (D = 7·G), so that tampered Γ values stay valid points.
func shiftPoint(b [p384.PointSize]byte, sign int) [p384.PointSize]byte {
	P, err := p384.ParsePoint(b[:])
	if err != nil {
		panic(err)
	}
	D := p384.BaseMul(p384.ScalarFromUint64(7))
	if sign < 0 {
		P = p384.Sub(P, D)
	} else {
		P = p384.Add(P, D)
	}
	var out [p384.PointSize]byte
	copy(out[:], P.Bytes())
	return out
}

func TestPresignMaliciousPartyBlamed(t *testing.T) {
	ks := confirmedShares(t)
	set := []int{1, 2, 3}
	cases := []struct {
		name string
		hook presignHook
		ban  bool
	}{
		{"round1 commitment", func(r int, m any) {
			if x, ok := m.(*PresignRound1); ok && x.From == 2 {
				x.Commit[0] ^= 1
			}
		}, false},
		{"round1 equivocating commitment", func(r int, m any) {
			if x, ok := m.(*PresignRound1); ok && x.From == 2 && x.To == 1 {
				x.Commit[0] ^= 1
			}
		}, false},
		{"round1 wrong session", func(r int, m any) {
			if x, ok := m.(*PresignRound1); ok && x.From == 2 {
				x.SessionID[0] ^= 1
			}
		}, false},
		{"round1 OT extension columns (cheating OT receiver)", func(r int, m any) {
			if x, ok := m.(*PresignRound1); ok && x.From == 2 {
				for i := 0; i < 256; i++ {
					x.RVOLE[rvole.NonceSize+i*96+5] ^= 0x20
				}
			}
		}, true},
		{"round2 echo", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.Echo[1] ^= 1
			}
		}, false},
		{"round2 R", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.R = randomPoint()
			}
		}, false},
		{"round2 salt", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.Salt[3] ^= 1
			}
		}, false},
		{"round2 pk", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.PK = randomPoint()
			}
		}, false},
		{"round2 Γu", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.GammaU = randomPoint()
			}
		}, false},
		{"round2 Γv", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.GammaV = randomPoint()
			}
		}, false},
		{"round2 Γu and Γv shifted by the same point", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.GammaU, x.GammaV = shiftPoint(x.GammaU, 1), shiftPoint(x.GammaV, 1)
			}
		}, false},
		{"round2 Γu and Γv shifted in opposite directions (passes only for ρ = 1)", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.GammaU, x.GammaV = shiftPoint(x.GammaU, 1), shiftPoint(x.GammaV, -1)
			}
		}, false},
		{"round2 ã (cheating RVOLE sender)", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.RVOLE[rvole.NonceSize+100] ^= 1
			}
		}, true},
		{"round2 η'", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.RVOLE[rvole.Msg2Size-40] ^= 1
			}
		}, true},
		{"round2 μ", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				x.RVOLE[rvole.Msg2Size-1] ^= 1
			}
		}, true},
		{"round2 ã scalar ≥ n", func(r int, m any) {
			if x, ok := m.(*PresignRound2); ok && x.From == 2 {
				copy(x.RVOLE[rvole.NonceSize:], p384.Order())
			}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ss := newSigners(t, ks, SignerConfig{})
			_, err := runPresign(t, ss, set, randomSID(), c.hook)
			var pe *partyError
			var ae *AbortError
			if !errors.As(err, &pe) || !errors.As(err, &ae) {
				t.Fatalf("got %v, want an abort", err)
			}
			if pe.party == 2 || ae.Culprit != 2 {
				t.Fatalf("party %d blamed %d, want an honest party blaming 2 (%v)", pe.party, ae.Culprit, err)
			}
			if strings.Contains(c.name, "Γ") && !strings.Contains(ae.Reason, "consistency check") {
				t.Fatalf("aborted for %q, want the Γ consistency check", ae.Reason)
			}
			if ae.Ban != c.ban || ss[pe.party].Banned(2) != c.ban {
				t.Fatalf("ban = %v, want %v", ae.Ban, c.ban)
			}
			if c.ban {
				if _, err := ss[pe.party].NewPresign(randomSID(), set); !errors.Is(err, ErrBanned) {
					t.Fatalf("banned party accepted: %v", err)
				}
			}
		})
	}
}

// ψ is not checked during presigning (as in DKLs23); a wrong ψ yields an
// invalid signature that Combine refuses to release.
func TestTamperedPsiCaughtAtCombine(t *testing.T) {
	ks := confirmedShares(t)
	set := []int{1, 2, 3}
	ss := newSigners(t, ks, SignerConfig{})
	ps, err := runPresign(t, ss, set, randomSID(), func(r int, m any) {
		if x, ok := m.(*PresignRound2); ok && x.From == 2 && x.To == 1 {
			s, _ := p384.NewScalar().Random(rand.Reader)
			s.PutBytes(x.Psi[:])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	d := sha384([]byte("psi"))
	_, err = Combine(ks[1].PublicKey(), d, signAll(t, ps, set, d))
	if !errors.Is(err, ErrInvalidSig) {
		t.Fatalf("got %v, want ErrInvalidSig", err)
	}
}

// Leak canary: no secret value appears verbatim (or negated) in any byte
// sent during a presigning and signing session.
func TestNoSecretInTranscript(t *testing.T) {
	ks := confirmedShares(t)
	set := []int{2, 4, 5}
	ss := newSigners(t, ks, SignerConfig{})
	var wire [][]byte
	rec := func(r int, m any) {
		type bm interface{ MarshalBinary() ([]byte, error) }
		b, _ := m.(bm).MarshalBinary()
		wire = append(wire, b)
	}
	ps, err := runPresign(t, ss, set, randomSID(), rec)
	if err != nil {
		t.Fatal(err)
	}
	var secrets [][]byte
	for _, i := range set {
		x := ks[i].x
		secrets = append(secrets, x.Bytes(), p384.NewScalar().Neg(x).Bytes(), ps[i].phi.Bytes(), ps[i].v.Bytes())
		for j := 1; j <= Parties; j++ {
			if j != i {
				secrets = append(secrets, ks[i].pair(j).zero[:], ks[i].pair(j).send.K[0][:], ks[i].pair(j).recv.K0[0][:], ks[i].pair(j).recv.K1[0][:])
			}
		}
	}
	d := sha384([]byte("canary"))
	for _, sh := range signAll(t, ps, set, d) {
		rec(3, sh)
	}
	for _, w := range wire {
		for _, s := range secrets {
			if containsBytes(w, s) {
				t.Fatal("a secret value appears in a message")
			}
		}
	}
}

func containsBytes(hay, needle []byte) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		if string(hay[i:i+len(needle)]) == string(needle) {
			return true
		}
	}
	return false
}
