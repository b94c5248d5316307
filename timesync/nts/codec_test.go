package nts

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/timesync/siv"
)

// The NTS-KE response chrony 4.3 sends (design note chrony-nts.md), built
// byte by byte from RFC 8915 §4: NextProtocol(C,0) AEAD(C,15) Port(C,11123)
// one 8-byte cookie, EOM(C).
func TestKEWireFormat(t *testing.T) {
	want, _ := hex.DecodeString("80010002" + "0000" + "80040002" + "000f" + "80070002" + "2b73" +
		"00050008" + "0102030405060708" + "80000000")
	m := &KEMessage{NextProtocols: []uint16{0}, AEADs: []uint16{15}, HasAEAD: true, Port: 11123, HasPort: true,
		Cookies: [][]byte{{1, 2, 3, 4, 5, 6, 7, 8}}}
	got, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
	back, err := ParseKEMessage(want, true)
	if err != nil {
		t.Fatal(err)
	}
	if back.Port != 11123 || len(back.Cookies) != 1 || back.AEADs[0] != 15 || back.NextProtocols[0] != 0 {
		t.Fatalf("decoded %+v", back)
	}
	// Strictness: trailing bytes, truncation, missing EOM, a request with a cookie.
	bad := [][]byte{
		append(bytes.Clone(want), 0),
		want[:len(want)-1],
		want[:len(want)-4],
	}
	for i, b := range bad {
		if _, err := ParseKEMessage(b, true); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := ParseKEMessage(want, false); err == nil {
		t.Error("request carrying New Cookie accepted")
	}
	var de *DecodeError
	if _, err := ParseKEMessage([]byte{0x80, 0, 0, 1, 0}, true); !errors.As(err, &de) {
		t.Errorf("EOM with body: %v", err)
	}
}

func TestTimestampEra(t *testing.T) {
	for _, ns := range []int64{
		0, 1, 1e9 - 1, 1_700_000_000_123_456_789,
		2_085_978_495_999_999_999, // 2036-02-07T06:28:15.999999999Z, the last second of era 0
		2_085_978_496_000_000_000, // era 1 starts
		2_200_000_000_000_000_000,
	} {
		ts := TimestampFromUnixNano(ns)
		got := ts.UnixNano(ns + 3600e9)
		if d := got - ns; d > 1 || d < -1 {
			t.Errorf("%d → %#x → %d (diff %d)", ns, uint64(ts), got, d)
		}
	}
	// RFC 5905: NTP timestamp of the Unix epoch is 2208988800 s.
	if TimestampFromUnixNano(0) != Timestamp(uint64(2208988800)<<32) {
		t.Fatal("epoch conversion")
	}
	if ShortToNano(1<<16) != 1e9 || ShortToNano(1<<15) != 5e8 {
		t.Fatal("short format conversion")
	}
}

func TestExtFieldStrict(t *testing.T) {
	b := AppendExtField(nil, EFUniqueIdentifier, make([]byte, 5))
	if len(b) != 16 {
		t.Fatalf("padded length %d", len(b))
	}
	fs, err := DecodeExtFields(b, 0)
	if err != nil || len(fs) != 1 || len(fs[0].Body) != 12 {
		t.Fatalf("%v %v", fs, err)
	}
	for _, bad := range [][]byte{
		{1, 4, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0},                // shorter than 16
		{1, 4, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // not a multiple of 4
		{1, 4, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},    // truncated
		append(bytes.Clone(b), 0, 0),                         // trailing bytes
	} {
		if _, err := DecodeExtFields(bad, 0); err == nil {
			t.Errorf("accepted %x", bad)
		}
	}
}

func TestRequestResponseCodec(t *testing.T) {
	key := make([]byte, 32)
	a, _ := siv.New(key)
	uid := bytes.Repeat([]byte{7}, 32)
	cookie := bytes.Repeat([]byte{9}, 100)
	req, err := buildRequest(0x0102030405060708, uid, cookie, 3, a, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	// 48 header + 36 UID + 104 cookie + 3×104 placeholders + 40 authenticator.
	if len(req) != 48+36+104+3*104+40 {
		t.Fatalf("request length %d", len(req))
	}
	r, err := parseRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.placeholders != 3 || !bytes.Equal(r.cookie, cookie) || !bytes.Equal(r.uid, uid) {
		t.Fatal("request fields")
	}
	if _, err := a.Open(nil, r.auth.Ciphertext, req[:r.authOffset], r.auth.Nonce); err != nil {
		t.Fatal("request authenticator does not verify")
	}
	// Authenticator not last → rejected.
	moved := AppendExtField(bytes.Clone(req), 0x7777, make([]byte, 12))
	if _, err := parseRequest(moved); err == nil {
		t.Fatal("field after authenticator accepted in a request")
	}
}

func FuzzParseKEMessage(f *testing.F) {
	m := &KEMessage{NextProtocols: []uint16{0}, AEADs: []uint16{15}, HasAEAD: true, Port: 123, HasPort: true,
		Server: "ntp.example", Cookies: [][]byte{make([]byte, 100)}}
	b, _ := m.Encode()
	f.Add(b, true)
	f.Add(b, false)
	f.Fuzz(func(t *testing.T, b []byte, response bool) {
		m, err := ParseKEMessage(b, response)
		if err != nil {
			return
		}
		// Anything accepted re-encodes to something that parses identically.
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("accepted message does not re-encode: %v", err)
		}
		m2, err := ParseKEMessage(enc, response)
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
		if len(m2.Cookies) != len(m.Cookies) || m2.Port != m.Port || m2.Server != m.Server || len(m2.AEADs) != len(m.AEADs) {
			t.Fatal("re-encoding changed the message")
		}
	})
}

func FuzzDecodePacket(f *testing.F) {
	a, _ := siv.New(make([]byte, 32))
	req, _ := buildRequest(5, make([]byte, 32), make([]byte, 100), 2, a, make([]byte, 16))
	f.Add(req)
	f.Add(make([]byte, 48))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b)
		if err != nil {
			return
		}
		// Re-encoding the accepted structure reproduces the input exactly.
		out := AppendHeader(nil, &p.Header)
		for _, fl := range p.Fields {
			out = AppendExtField(out, fl.Type, fl.Body)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs")
		}
		if r, err := parseRequest(b); err == nil {
			if len(r.uid) < minUIDLen || r.auth == nil {
				t.Fatal("invalid request accepted")
			}
		}
	})
}

func FuzzParseAuthenticator(f *testing.F) {
	b := AppendAuthenticator(nil, make([]byte, 16), make([]byte, 16))
	f.Add(b[4:])
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseAuthenticator(body)
		if err != nil {
			return
		}
		if len(a.Nonce) < minNonceLen || len(a.Ciphertext) < tagLen {
			t.Fatal("short nonce or ciphertext accepted")
		}
	})
}

func FuzzCheckResponse(f *testing.F) {
	a, _ := siv.New(make([]byte, 32))
	uid := make([]byte, 32)
	h := Header{Version: 4, Mode: ModeServer, Stratum: 1, OrigTime: 42}
	b := AppendHeader(nil, &h)
	b = AppendExtField(b, EFUniqueIdentifier, uid)
	ct, _ := a.Seal(nil, AppendExtField(nil, EFCookie, make([]byte, 100)), b, make([]byte, 16))
	b = AppendAuthenticator(b, make([]byte, 16), ct)
	if _, err := checkResponse(b, 42, uid, a); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := checkResponse(b, 42, uid, a)
		if err != nil {
			return
		}
		if r.pkt.Mode != ModeServer || r.pkt.OrigTime != 42 {
			t.Fatal("invalid response accepted")
		}
	})
}

func FuzzReadMessage(f *testing.F) {
	m := &KEMessage{NextProtocols: []uint16{0}, AEADs: []uint16{15}, HasAEAD: true}
	b, _ := m.Encode()
	f.Add(b)
	f.Add(append(b, 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := ReadMessage(bytes.NewReader(b))
		if err != nil {
			return
		}
		if !bytes.HasPrefix(b, msg) || len(msg) > maxKEMessageLen {
			t.Fatal("message is not a bounded prefix of the stream")
		}
		if _, err := DecodeRecords(msg); err != nil {
			t.Fatalf("ReadMessage returned an undecodable message: %v", err)
		}
	})
}
