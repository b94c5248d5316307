module github.com/cc-tsa/cc-tsa/dkg

go 1.26.0

require (
	filippo.io/bigmod v0.1.0
	filippo.io/nistec v0.0.4
	github.com/cloudflare/circl v1.6.5
	golang.org/x/crypto v0.58.0
)

require (
	github.com/bwesterb/go-ristretto v1.2.4 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
