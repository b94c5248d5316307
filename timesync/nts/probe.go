package nts

import (
	"context"
	"crypto/x509"
	"errors"
	"time"
)

// Measurement is the result of Probe, shaped for `cc-tsa time probe --json`
// (ARCHITECTURE §7): offset is server minus local.
type Measurement struct {
	Server           string `json:"server"`
	NTPServer        string `json:"ntp_server"`
	OffsetNS         int64  `json:"offset_ns"`
	DelayNS          int64  `json:"delay_ns"`
	UncertaintyNS    int64  `json:"uncertainty_ns"`
	RootDelayNS      int64  `json:"root_delay_ns"`
	RootDispersionNS int64  `json:"root_dispersion_ns"`
	Stratum          uint8  `json:"stratum"`
	AEAD             string `json:"aead"`
	Cookies          int    `json:"cookies"`
}

// Probe runs NTS-KE with server (host:port) trusting only roots, performs one
// authenticated NTP exchange and returns the measurement. now is the local
// clock: it supplies T1/T4 and the time against which the server certificate
// is validated. An error means the server could not be authenticated or
// measured.
func Probe(ctx context.Context, server string, roots *x509.CertPool, now func() time.Time) (*Measurement, error) {
	if now == nil {
		return nil, errors.New("nts: Probe needs a clock")
	}
	c, err := NewClient(server, ClientConfig{
		KEConfig: KEConfig{Roots: roots, CertTime: now},
		Now:      func() int64 { return now().UnixNano() },
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s, err := c.Query(ctx)
	if err != nil {
		return nil, err
	}
	return &Measurement{
		Server: server, NTPServer: c.ntpAddr(),
		OffsetNS: s.Offset, DelayNS: s.Delay, UncertaintyNS: s.Uncertainty(),
		RootDelayNS: s.RootDelay, RootDispersionNS: s.RootDispersion,
		Stratum: s.Stratum, AEAD: "AEAD_AES_SIV_CMAC_256", Cookies: s.CookiesAfter,
	}, nil
}

func (c *Client) ntpAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return ""
	}
	return c.sess.NTPAddr
}
