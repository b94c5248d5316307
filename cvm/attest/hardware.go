package attest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/client"
)

// Hardware is the [Attester] of a real SEV-SNP guest. It asks the AMD
// secure processor for an extended report (report plus the host's
// certificate table) through configfs-tsm (/sys/kernel/config/tsm/report)
// or, on older kernels, the /dev/sev-guest ioctl, whichever go-sev-guest
// finds usable first. It is safe for concurrent use: requests to the
// secure processor are serialised.
type Hardware struct {
	mu   sync.Mutex
	vmpl uint
	qp   client.LeveledQuoteProvider
}

// NewHardware opens the SEV-SNP guest interface. Reports are requested at
// the given VMPL (0-3; 0 unless an SVSM or paravisor runs at VMPL0). Outside
// an SEV-SNP guest it fails with ErrNoDevice.
func NewHardware(vmpl uint32) (*Hardware, error) {
	if vmpl > 3 {
		return nil, fmt.Errorf("%w: VMPL %d out of range 0-3", ErrConfig, vmpl)
	}
	qp, err := client.GetLeveledQuoteProvider()
	if err != nil {
		return nil, fmt.Errorf("%w: neither configfs-tsm (/sys/kernel/config/tsm/report) nor /dev/sev-guest is usable (%v); run inside an AMD SEV-SNP guest or use the simulated attester", ErrNoDevice, err)
	}
	return &Hardware{vmpl: uint(vmpl), qp: qp}, nil
}

// Kind returns KindSEVSNP.
func (h *Hardware) Kind() Kind { return KindSEVSNP }

// Attest requests a fresh extended report carrying reportData, extracts
// the endorsement key certificate (VCEK or VLEK, per the report's
// SIGNER_INFO), the ASK or ASVK and the ARK from the host's certificate
// table, and checks the report's signature and REPORT_DATA before
// returning it. It fails with ErrDevice if the host supplied no
// endorsement key certificate (fetching it from AMD's KDS is not done).
func (h *Hardware) Attest(reportData [ReportDataSize]byte) (*Evidence, error) {
	h.mu.Lock()
	raw, err := h.qp.GetRawQuoteAtLevel(reportData, h.vmpl)
	h.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: extended report at VMPL %d: %v", ErrDevice, h.vmpl, err)
	}
	ev, err := evidenceFromQuote(raw)
	if err != nil {
		return nil, err
	}
	if err := selfCheck(ev, reportData); err != nil {
		return nil, err
	}
	return ev, nil
}

// evidenceFromQuote splits a raw quote (report followed by the GHCB
// certificate table) into Evidence.
func evidenceFromQuote(raw []byte) (*Evidence, error) {
	if len(raw) < ReportSize {
		return nil, fmt.Errorf("%w: quote is %d bytes, shorter than a report", ErrDevice, len(raw))
	}
	report := bytes.Clone(raw[:ReportSize])
	table, err := parseCertTable(raw[ReportSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: certificate table: %v", ErrDevice, err)
	}
	si, err := abi.ReportSignerInfo(report)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	info, err := abi.ParseSignerInfo(si)
	if err != nil {
		return nil, fmt.Errorf("%w: SIGNER_INFO: %v", ErrMalformed, err)
	}
	var ekGUID string
	switch info.SigningKey {
	case abi.VcekReportSigner:
		ekGUID = abi.VcekGUID
	case abi.VlekReportSigner:
		ekGUID = abi.VlekGUID
	default:
		return nil, fmt.Errorf("%w: report signed by %v, not a VCEK or VLEK", ErrDevice, info.SigningKey)
	}
	ev := &Evidence{
		Kind:             KindSEVSNP,
		Report:           report,
		EndorsementCert:  table[guid(ekGUID)],
		IntermediateCert: table[guid(abi.AskGUID)], // the ASVK uses the ASK GUID too
		RootCert:         table[guid(abi.ArkGUID)],
	}
	if len(ev.EndorsementCert) == 0 {
		return nil, fmt.Errorf("%w: the host supplied no %v certificate in the extended report", ErrDevice, info.SigningKey)
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return ev, nil
}

// guid returns the 16 bytes of a GUID constant of package abi
// ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"), in the textual byte order
// go-sev-guest uses for certificate table entries. The constants are
// valid, so a decoding failure is a programming error.
func guid(s string) [16]byte {
	var g [16]byte
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(g) {
		panic("attest: invalid GUID constant " + s)
	}
	copy(g[:], b)
	return g
}

// certTableEntrySize is the size of one GHCB certificate table entry:
// GUID (16 bytes), offset (u32 LE), length (u32 LE).
const certTableEntrySize = 24

// parseCertTable decodes the GHCB extended-report certificate table that
// the (untrusted) host supplies: entries up to an all-zero terminator, each
// naming a blob by offset and length from the start of the table. It
// returns copies of the blobs by GUID. It rejects a missing terminator, a
// blob that overlaps the entries or leaves the table, and duplicate GUIDs.
// Bytes after the last blob (page padding) are ignored. An empty table has
// no entries.
func parseCertTable(b []byte) (map[[16]byte][]byte, error) {
	out := map[[16]byte][]byte{}
	if len(b) == 0 {
		return out, nil
	}
	type entry struct {
		id          [16]byte
		off, length uint32
	}
	var entries []entry
	end := -1
	for i := 0; i+certTableEntrySize <= len(b); i += certTableEntrySize {
		var e entry
		copy(e.id[:], b[i:i+16])
		e.off = binary.LittleEndian.Uint32(b[i+16:])
		e.length = binary.LittleEndian.Uint32(b[i+20:])
		if e.id == ([16]byte{}) && e.off == 0 && e.length == 0 {
			end = i + certTableEntrySize
			break
		}
		entries = append(entries, e)
	}
	if end < 0 {
		return nil, fmt.Errorf("%w: certificate table has no terminator", ErrMalformed)
	}
	for i, e := range entries {
		if uint64(e.off) < uint64(end) || uint64(e.off)+uint64(e.length) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: certificate table entry %d (offset %d, length %d) outside [%d, %d)", ErrMalformed, i, e.off, e.length, end, len(b))
		}
		if _, dup := out[e.id]; dup {
			return nil, fmt.Errorf("%w: certificate table entry %d repeats GUID %x", ErrMalformed, i, e.id)
		}
		out[e.id] = bytes.Clone(b[e.off : e.off+e.length])
	}
	return out, nil
}
