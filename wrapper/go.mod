module github.com/cc-tsa/cc-tsa/wrapper

go 1.26.0

require (
	github.com/cloudflare/circl v1.6.5 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)
