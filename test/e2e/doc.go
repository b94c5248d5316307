// Package e2e holds the end-to-end tests of CC-TSA: they build the cc-tsa
// binary, start two `cc-tsa dev` TSAs on free loopback ports (the
// single-oracle development mode and the product's 3-of-5 threshold
// cluster) and drive them with clients nobody on the project wrote (openssl
// ts, osslsigncode, jarsigner, an independent Node.js verifier using
// @noble/post-quantum and asn1js) as well as the project's own request,
// verify and bench commands.
//
// The package has no non-test code; run it with
//
//	cd test && go test ./e2e -count=1
//
// See docs/testing.md for what each test checks and what it needs installed.
package e2e
