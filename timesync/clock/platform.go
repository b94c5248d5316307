package clock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// SEV_STATUS MSR and its bits (AMD APM vol. 2; Linux msr-index.h).
const (
	msrSEVStatus     = 0xC0010131
	sevStatusSEV     = 1 << 0
	sevStatusSEVES   = 1 << 1
	sevStatusSNP     = 1 << 2
	sevStatusSecTSC  = 1 << 11
	clocksourcePath  = "/sys/devices/system/clocksource/clocksource0/current_clocksource"
	maxKernelLogRead = 4 << 20
)

// Label values describing the monotonic source in status output.
const (
	LabelSecureTSC    = "SecureTSC (CLOCK_MONOTONIC_RAW, clocksource tsc)"
	LabelNotSecureTSC = "not SecureTSC (ordinary CLOCK_MONOTONIC_RAW; development only)"
)

// PlatformProbe abstracts the host interfaces the start-up checks read, so
// tests can supply a simulated SEV-SNP guest.
type PlatformProbe interface {
	// ReadFile reads a (small) sysfs file.
	ReadFile(name string) ([]byte, error)
	// ReadMSR reads a model-specific register of CPU 0.
	ReadMSR(reg uint32) (uint64, error)
	// KernelLog returns the kernel ring buffer (as much as is available).
	KernelLog() (string, error)
}

// HostProbe reads the real machine: sysfs, /dev/cpu/0/msr (msr module, root)
// and /dev/kmsg.
type HostProbe struct{}

// ReadFile reads name.
func (HostProbe) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// ReadMSR reads reg from /dev/cpu/0/msr.
func (HostProbe) ReadMSR(reg uint32) (uint64, error) {
	f, err := os.Open("/dev/cpu/0/msr")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var b [8]byte
	if _, err := f.ReadAt(b[:], int64(reg)); err != nil {
		return 0, fmt.Errorf("reading MSR %#x: %w", reg, err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// KernelLog reads the records currently in /dev/kmsg without blocking.
func (HostProbe) KernelLog() (string, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: "/dev/kmsg", Err: err}
	}
	defer unix.Close(fd)
	var sb strings.Builder
	buf := make([]byte, 8192)
	for sb.Len() < maxKernelLogRead {
		n, err := unix.Read(fd, buf)
		if err == unix.EPIPE { // record overwritten while reading: continue
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		sb.Write(buf[:n])
		sb.WriteByte('\n')
	}
	return sb.String(), nil
}

// Platform is the result of the start-up checks.
type Platform struct {
	// SEVSNP reports that the node runs as an SEV-SNP guest.
	SEVSNP bool
	// SecureTSC reports that SecureTSC is active (SEV_STATUS bit 11 or the
	// kernel's "SEV: Status:" line).
	SecureTSC bool
	// Clocksource is the kernel's current clocksource.
	Clocksource string
	// Evidence lists what was observed, for the status page.
	Evidence []string
	// Problems lists why the platform is not sound (empty if it is).
	Problems []string
}

// Sound reports whether the monotonic source is SecureTSC-backed: SEV-SNP,
// SecureTSC active and clocksource tsc.
func (p *Platform) Sound() bool {
	return p.SEVSNP && p.SecureTSC && p.Clocksource == "tsc" && len(p.Problems) == 0
}

// Label describes the monotonic source: LabelSecureTSC only when Sound.
func (p *Platform) Label() string {
	if p.Sound() {
		return LabelSecureTSC
	}
	return LabelNotSecureTSC
}

// CheckPlatform runs the start-up checks of trusted-time.md §3.4. Evidence
// sources that cannot be read are recorded, never treated as success; if the
// MSR and the kernel log disagree, SecureTSC counts as absent.
func CheckPlatform(p PlatformProbe) *Platform {
	out := &Platform{}
	cs, err := p.ReadFile(clocksourcePath)
	if err != nil {
		out.Problems = append(out.Problems, "clocksource unreadable: "+err.Error())
	} else {
		out.Clocksource = strings.TrimSpace(string(cs))
		out.Evidence = append(out.Evidence, "clocksource="+out.Clocksource)
	}
	msrKnown, msrSNP, msrTSC := false, false, false
	if v, err := p.ReadMSR(msrSEVStatus); err == nil {
		msrKnown = true
		msrSNP = v&sevStatusSNP != 0
		msrTSC = v&sevStatusSecTSC != 0
		out.Evidence = append(out.Evidence, fmt.Sprintf("SEV_STATUS=%#x", v))
	} else {
		out.Evidence = append(out.Evidence, "SEV_STATUS unreadable: "+err.Error())
	}
	logKnown, logSNP, logTSC := false, false, false
	if l, err := p.KernelLog(); err == nil {
		for _, line := range strings.Split(l, "\n") {
			i := strings.Index(line, "SEV: Status:")
			if i < 0 {
				continue
			}
			logKnown = true
			feats := strings.Fields(line[i+len("SEV: Status:"):])
			for _, f := range feats {
				switch f {
				case "SEV-SNP":
					logSNP = true
				case "SecureTSC":
					logTSC = true
				}
			}
			out.Evidence = append(out.Evidence, "kernel: "+strings.TrimSpace(line[i:]))
		}
	} else {
		out.Evidence = append(out.Evidence, "kernel log unreadable: "+err.Error())
	}
	switch {
	case msrKnown && logKnown:
		out.SEVSNP = msrSNP && logSNP
		out.SecureTSC = msrTSC && logTSC
		if msrSNP != logSNP || msrTSC != logTSC {
			out.Problems = append(out.Problems, "SEV_STATUS and kernel log disagree")
		}
	case msrKnown:
		out.SEVSNP, out.SecureTSC = msrSNP, msrTSC
	case logKnown:
		out.SEVSNP, out.SecureTSC = logSNP, logTSC
	}
	if out.SEVSNP {
		if !out.SecureTSC {
			out.Problems = append(out.Problems, "SEV-SNP guest without SecureTSC")
		}
		if out.Clocksource != "tsc" {
			out.Problems = append(out.Problems, fmt.Sprintf("clocksource is %q, not tsc", out.Clocksource))
		}
	}
	return out
}

// ErrPlatform is returned when an SEV-SNP node's platform is not sound.
var ErrPlatform = errors.New("clock: SEV-SNP platform without SecureTSC-backed tsc clocksource")

// Err returns nil when the platform is sound or is not an SEV-SNP guest at
// all (development), and an error wrapping ErrPlatform when it is an SEV-SNP
// guest whose monotonic clock cannot be trusted: start-up should fail closed.
func (p *Platform) Err() error {
	if p.SEVSNP && !p.Sound() {
		return fmt.Errorf("%w: %s", ErrPlatform, strings.Join(p.Problems, "; "))
	}
	return nil
}
