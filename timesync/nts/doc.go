// Package nts implements Network Time Security for NTPv4 (RFC 8915): the
// NTS-KE record codec, the NTPv4 packet and extension-field codec, an NTS
// client (key establishment over TLS 1.3, cookie jar, authenticated time
// queries) and an NTS server with fault-injection hooks for tests and
// development.
//
// The only AEAD supported is AEAD_AES_SIV_CMAC_256 (IANA id 15), the one RFC
// 8915 makes mandatory, implemented in package siv. Trust anchors are always
// explicit and certificate validity is checked against a caller-supplied
// notion of time, never the host's wall clock by default.
//
// All decoders in this package are strict: exact lengths, range checks, no
// trailing bytes, bounded sizes and typed errors; they never panic on input.
package nts
