package fips204

import "testing"

func BenchmarkNTT(b *testing.B) {
	p := new(Poly)
	for i := range p {
		p[i] = uint32(i * 7919 % Q)
	}
	for b.Loop() {
		p.NTT()
	}
}

func BenchmarkInvNTT(b *testing.B) {
	p := new(Poly)
	for i := range p {
		p[i] = uint32(i * 7919 % Q)
	}
	for b.Loop() {
		p.InvNTT()
	}
}

func BenchmarkVerify(b *testing.B) {
	var seed [32]byte
	pk, sk := KeyGenInternal(&seed)
	var rnd [32]byte
	sig, _ := Sign(sk, []byte("m"), nil, &rnd)
	for b.Loop() {
		if !Verify(pk, []byte("m"), nil, sig) {
			b.Fatal("verify")
		}
	}
}
