package mldsa

import (
	"errors"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// Combine aggregates one attempt into a standard FIPS 204 signature. It needs
// no secret. It tries the slots in order: a slot is used only
// if every signer accepted it, the aggregated z satisfies ‖z‖∞ < γ1 − β, the
// difference δ between the aggregated commitment and the verifier's w′
// satisfies ‖δ‖∞ < γ2 and the hint has at most ω ones. The resulting
// signature is verified with the standard verifier before it is returned
// (so a reveal that does not match its commitment can never lead to a
// released signature that does not verify). If no slot works, Combine checks
// every reveal against its commitment and returns an *AbortError naming the
// sender of a mismatching one, or ErrNoValidSlot.
func Combine(p Params, pk *PublicKey, cfg SessionConfig, cmts []*Commitment, revs []*Reveal, resps []*Response) ([]byte, error) {
	return combine(p, pk, cfg, cmts, revs, resps, true)
}

// CombineChecked is Combine for a combiner whose signers have each checked
// every reveal against its commitment before responding (Round3 does, and
// aborts naming the culprit otherwise): when no slot works it returns
// ErrNoValidSlot without hashing the reveals again to look for a culprit,
// which would cost about as much as one signer's reveal checks. The
// signature it returns is verified exactly as Combine's.
func CombineChecked(p Params, pk *PublicKey, cfg SessionConfig, cmts []*Commitment, revs []*Reveal, resps []*Response) ([]byte, error) {
	return combine(p, pk, cfg, cmts, revs, resps, false)
}

func combine(p Params, pk *PublicKey, cfg SessionConfig, cmts []*Commitment, revs []*Reveal, resps []*Response, blame bool) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if pk == nil || pk.pk == nil {
		return nil, errors.New("mldsa: Combine needs a public key")
	}
	if _, err := cfg.signerMask(p); err != nil {
		return nil, err
	}
	senders := make([]int, len(cmts))
	for i, c := range cmts {
		if c == nil {
			return nil, abort(CulpritNone, "nil commitment")
		}
		senders[i] = c.Sender
	}
	idx, err := order(cfg.Signers, senders)
	if err != nil {
		return nil, err
	}
	hashes := make([][commitHashSize]byte, len(idx))
	for pos, k := range idx {
		hashes[pos] = cmts[k].Hash
	}
	ordRevs, err := orderReveals(p, &cfg, revs)
	if err != nil {
		return nil, err
	}
	senders = make([]int, len(resps))
	for i, r := range resps {
		if r == nil {
			return nil, abort(CulpritNone, "nil response")
		}
		senders[i] = r.Sender
	}
	idx, err = order(cfg.Signers, senders)
	if err != nil {
		return nil, err
	}
	ordResps := make([]*Response, len(idx))
	offsets := make([]int, len(idx)) // read position in each response's z
	for pos, k := range idx {
		r := resps[k]
		if r.Slots != p.K || len(r.accept) != (p.K+7)/8 || len(r.z) != popcount(r.accept)*zSlotSize {
			return nil, abort(r.Sender, "response has %d slots, want %d", r.Slots, p.K)
		}
		ordResps[pos] = r
	}

	var (
		z      [fips204.L][fips204.N]int32
		zi     [fips204.N]int32
		zHat   fips204.VecL
		w      fips204.VecK
		wp     fips204.Poly
		cHat   fips204.Poly
		ct     fips204.Poly
		h      fips204.VecK
		cTilde [fips204.CTildeSize]byte
		sig    = make([]byte, fips204.SignatureSize)
	)
	a := pk.pk.A
slots:
	for j := 0; j < p.K; j++ {
		all := true
		for _, r := range ordResps {
			if !r.Accepted(j) {
				all = false
			}
		}
		if !all {
			for pos, r := range ordResps {
				if r.Accepted(j) {
					offsets[pos] += zSlotSize
				}
			}
			continue
		}
		// z = Σ z_i over the integers (|Σ| < 6·2^19 < q/2).
		z = [fips204.L][fips204.N]int32{}
		for pos, r := range ordResps {
			blk := r.z[offsets[pos] : offsets[pos]+zSlotSize]
			offsets[pos] += zSlotSize
			for i := range z {
				fips204.UnpackZ(&zi, blk[i*fips204.PolyZSize:])
				for k := range zi {
					z[i][k] += zi[k]
				}
			}
		}
		for i := range z {
			for k := range z[i] {
				if v := z[i][k]; v >= fips204.Gamma1-fips204.Beta || v <= -(fips204.Gamma1-fips204.Beta) {
					continue slots
				}
			}
			zHat[i].FromInt(&z[i])
			zHat[i].NTT()
		}
		sumW(&w, ordRevs, j)
		fips204.ChallengeHash(cTilde[:], &cfg.Mu, &w)
		fips204.SampleInBall(&cHat, cTilde[:])
		cHat.NTT()
		hints := 0
		for i := range w {
			// w′ = A·z − c·t1·2^d
			fips204.MatRowMul(&wp, &a[i], &zHat)
			ct.MulMont(&cHat, &pk.t1Hat[i])
			wp.Sub(&wp, &ct)
			wp.InvNTT()
			for k := range wp {
				d := fips204.Centered(w[i][k]) - fips204.Centered(wp[k])
				// δ = w − w′ centered mod q
				dq := fips204.ModQ(d)
				dc := fips204.Centered(dq)
				if dc >= fips204.Gamma2 || dc <= -fips204.Gamma2 {
					continue slots
				}
				h[i][k] = fips204.MakeHint(dq, wp[k])
				hints += int(h[i][k])
			}
		}
		if hints > fips204.Omega {
			continue
		}
		fips204.EncodeSignature(sig, cTilde[:], &z, &h)
		if fips204.VerifyMu(pk.pk, &cfg.Mu, sig) {
			return sig, nil
		}
	}
	// No slot worked: find out whether a reveal is to blame.
	if blame {
		if err := verifyReveals(pk, p, &cfg, hashes, ordRevs, CulpritNone, nil); err != nil {
			return nil, err
		}
	}
	return nil, ErrNoValidSlot
}

// CheckReveals checks every reveal of an attempt against its sender's
// commitment, as round 3 does, and returns an *AbortError naming the sender
// of the first reveal that is missing, has the wrong shape or does not open
// its commitment. A combiner that received each message directly from its
// sender uses it to find which signer sent a bad reveal when a signer's
// round 3 refused one that the relay cannot have altered.
func CheckReveals(p Params, pk *PublicKey, cfg SessionConfig, cmts []*Commitment, revs []*Reveal) error {
	if err := p.validate(); err != nil {
		return err
	}
	if pk == nil || pk.pk == nil {
		return errors.New("mldsa: CheckReveals needs a public key")
	}
	if _, err := cfg.signerMask(p); err != nil {
		return err
	}
	senders := make([]int, len(cmts))
	for i, c := range cmts {
		if c == nil {
			return abort(CulpritNone, "nil commitment")
		}
		senders[i] = c.Sender
	}
	idx, err := order(cfg.Signers, senders)
	if err != nil {
		return err
	}
	hashes := make([][commitHashSize]byte, len(idx))
	for pos, k := range idx {
		hashes[pos] = cmts[k].Hash
	}
	ordered, err := orderReveals(p, &cfg, revs)
	if err != nil {
		return err
	}
	return verifyReveals(pk, p, &cfg, hashes, ordered, CulpritNone, nil)
}
