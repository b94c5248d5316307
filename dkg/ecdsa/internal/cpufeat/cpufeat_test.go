package cpufeat

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestMatchesProcCPUInfo compares the detection with the flags the Linux
// kernel reports (the kernel also clears AVX2 when it does not save YMM).
func TestMatchesProcCPUInfo(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		if AVX2() || CLMUL() {
			t.Fatal("features reported on a non-amd64 build")
		}
		return
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip("no /proc/cpuinfo")
	}
	var flags map[string]bool
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			flags = make(map[string]bool)
			for _, f := range strings.Fields(v) {
				flags[f] = true
			}
			break
		}
	}
	if flags == nil {
		t.Skip("no flags line")
	}
	purego := !detectable()
	if want := flags["avx2"] && !purego; AVX2() != want {
		t.Errorf("AVX2() = %v, /proc/cpuinfo says %v", AVX2(), want)
	}
	if want := flags["pclmulqdq"] && flags["sse4_1"] && !purego; CLMUL() != want {
		t.Errorf("CLMUL() = %v, /proc/cpuinfo says %v", CLMUL(), want)
	}
}
