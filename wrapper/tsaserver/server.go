// Package tsaserver serves the Time-Stamp Authority over HTTP (RFC 3161
// §3.4): POST / and POST /tsa take an application/timestamp-query and answer
// with an application/timestamp-reply. It also serves the certificates,
// health, readiness and Prometheus metrics.
package tsaserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/audit"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Issuer issues tokens; *coordinator.Coordinator implements it.
type Issuer interface {
	Issue(ctx context.Context, f *wire.TokenFields) (*coordinator.Issued, error)
	Ready() bool
	Nodes() []*coordinator.Node
	Threshold() int
}

// Config configures the HTTP service.
type Config struct {
	Issuer Issuer
	// CertsPEM is served at GET /certs.
	CertsPEM []byte
	// Mode describes the deployment for /readyz, e.g. "development: single
	// oracle, NOT THRESHOLD".
	Mode string
	// Simulated reports whether attestation is simulated.
	Simulated bool
	// Audit, if not nil, records every token before it is released; a
	// token whose record cannot be made durable is not released.
	Audit  *audit.Log
	Logger *slog.Logger
	// Attest, if not nil, serves GET /attest?nonce=HEX: every oracle's
	// identity and fresh attestation evidence for the caller's nonce.
	Attest func(ctx context.Context, nonce [wire.NonceSize]byte) ([]*wire.Hello, error)
	// Ceremony, if not nil, is served verbatim at GET /ceremony: the
	// public record of the key ceremony (coordinator.CeremonyRecord, JSON),
	// which lets `cc-tsa attest` tie the attested oracles to the ceremony
	// transcript that the TSA certificates carry.
	Ceremony []byte
	// Replace, if not nil, serves POST /admin/replace?node=N to clients on
	// the loopback interface only: replace a dead oracle (development).
	Replace func(ctx context.Context, node uint8) error
	// Refresh, if not nil, serves POST /admin/refresh to clients on the
	// loopback interface only: refresh the ECDSA shares of every member.
	Refresh func(ctx context.Context) error
	// Registry receives the metrics; nil creates a new registry.
	Registry *prometheus.Registry
}

// Server is the HTTP front of the TSA.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	reg     *prometheus.Registry
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
	fails   *prometheus.CounterVec
}

// MaxBody bounds request bodies; larger ones get 413.
const MaxBody = rfc3161.MaxRequestSize

// New returns a server for cfg.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	}
	s := &Server{
		cfg: cfg,
		log: log.With("component", "http"),
		mux: http.NewServeMux(),
		reg: reg,
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cc_tsa_requests_total",
			Help: "Time-stamp requests answered, by PKIStatus outcome and failInfo.",
		}, []string{"status", "fail_info"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cc_tsa_request_duration_seconds",
			Help:    "Time to answer a time-stamp request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"status"}),
		fails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cc_tsa_signing_failures_total",
			Help: "Signing sessions that failed, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(s.reqs, s.latency, s.fails)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cc_tsa_ready_oracles",
		Help: "Oracles currently ready to sign.",
	}, func() float64 { return float64(readyCount(cfg.Issuer)) }))
	if st, ok := cfg.Issuer.(interface{ Stats() *coordinator.Stats }); ok {
		stats := st.Stats()
		for name, help := range map[string]struct {
			help string
			v    func() uint64
		}{
			"cc_tsa_signing_sessions_total":     {"Signing sessions that produced a token.", stats.Sessions.Load},
			"cc_tsa_mldsa_attempts_total":       {"ML-DSA attempts (each succeeds with probability at least 1/2).", stats.MLDSAAttempts.Load},
			"cc_tsa_session_retries_total":      {"Sessions retried with another signer set.", stats.Retries.Load},
			"cc_tsa_presignatures_total":        {"ECDSA presignatures made by the oracles.", stats.Presignatures.Load},
			"cc_tsa_inline_presignatures_total": {"Presignatures made while a request waited (pool empty).", stats.InlinePresigns.Load},
			"cc_tsa_relayed_bytes_total":        {"Bytes of signing-round messages between oracles, counted per receiver.", stats.RelayedBytes.Load},
		} {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help.help}, func() float64 { return float64(help.v()) }))
		}
		for st := coordinator.Stage(0); st < coordinator.NumStages; st++ {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "cc_tsa_session_stage_seconds_total",
				Help:        "Wall time threshold signing sessions spent in each stage, summed over sessions.",
				ConstLabels: prometheus.Labels{"stage": st.String()},
			}, func() float64 { return float64(stats.StageNanos[st].Load()) / 1e9 }))
		}
	}

	s.mux.HandleFunc("/", s.handleTSA)
	s.mux.HandleFunc("/tsa", s.handleTSA)
	s.mux.HandleFunc("GET /certs", s.handleCerts)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if cfg.Attest != nil {
		s.mux.HandleFunc("GET /attest", s.handleAttest)
	}
	if cfg.Ceremony != nil {
		s.mux.HandleFunc("GET /ceremony", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(cfg.Ceremony)
		})
	}
	if cfg.Replace != nil {
		s.mux.HandleFunc("POST /admin/replace", s.handleReplace)
	}
	if cfg.Refresh != nil {
		s.mux.HandleFunc("POST /admin/refresh", s.handleRefresh)
	}
	return s
}

func readyCount(is Issuer) int {
	n := 0
	for _, node := range is.Nodes() {
		if node.Ready() {
			n++
		}
	}
	return n
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// HTTPServer returns an *http.Server for s with timeouts on every
// connection.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on l until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := s.HTTPServer(l.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("tsaserver: shutdown: %w", err)
	}
	return nil
}

func (s *Server) handleTSA(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "/tsa" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "time-stamp requests must be POSTed", http.StatusMethodNotAllowed)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/timestamp-query" {
		http.Error(w, "Content-Type must be application/timestamp-query", http.StatusUnsupportedMediaType)
		return
	}
	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("request body exceeds %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp, status, info := s.answer(r.Context(), body)
	s.reqs.WithLabelValues(status, info).Inc()
	s.latency.WithLabelValues(status).Observe(time.Since(start).Seconds())
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(resp)
}

// answer turns a request body into a DER TimeStampResp, and names the
// outcome for metrics.
func (s *Server) answer(ctx context.Context, body []byte) (resp []byte, status, failInfo string) {
	req, refusal := rfc3161.ParseRequest(body)
	if refusal != nil {
		s.log.Info("request refused", "fail_info", refusal.Info.String(), "reason", refusal.Reason)
		return rfc3161.Rejection(refusal), "rejection", refusal.Info.String()
	}
	f := &wire.TokenFields{
		Policy:         req.Policy,
		HashAlg:        req.HashAlg,
		HashParamsNull: req.HashParamsNull,
		Imprint:        req.Imprint,
		Nonce:          req.Nonce,
		CertReq:        req.CertReq,
	}
	if f.Policy == 0 {
		f.Policy = wire.PolicyHybrid
	}
	iss, err := s.cfg.Issuer.Issue(ctx, f)
	if err != nil {
		r := &rfc3161.Refusal{Info: rfc3161.SystemFailure, Reason: "the TSA could not sign; try again"}
		reason := "error"
		switch {
		case errors.Is(err, coordinator.ErrNoQuorum):
			r.Reason, reason = "not enough signing oracles are ready", "no_quorum"
		case errors.Is(err, coordinator.ErrTimeNotAvailable):
			r.Info, r.Reason, reason = rfc3161.TimeNotAvailable, "the signing oracles have no trusted time", "time"
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			reason = "timeout"
		}
		s.fails.WithLabelValues(reason).Inc()
		s.log.Warn("signing failed", "reason", reason, "err", err)
		return rfc3161.Rejection(r), "rejection", r.Info.String()
	}
	if s.cfg.Audit != nil {
		rec := &audit.Record{
			Serial:    iss.Info.Serial.Bytes(),
			GenTime:   iss.Info.GenTime,
			Policy:    iss.Info.Policy,
			HashAlg:   iss.Info.HashAlg,
			Imprint:   iss.Info.Imprint,
			Signers:   iss.Signers,
			TokenHash: sha256.Sum256(iss.Token),
		}
		if err := s.cfg.Audit.Append(ctx, rec); err != nil {
			s.fails.WithLabelValues("audit").Inc()
			s.log.Error("audit log append failed; token withheld", "err", err)
			r := &rfc3161.Refusal{Info: rfc3161.SystemFailure, Reason: "the TSA could not record the token; try again"}
			return rfc3161.Rejection(r), "rejection", r.Info.String()
		}
	}
	out, err := rfc3161.Granted(iss.Token)
	if err != nil {
		s.fails.WithLabelValues("encode").Inc()
		s.log.Error("encoding response", "err", err)
		r := &rfc3161.Refusal{Info: rfc3161.SystemFailure, Reason: "internal error"}
		return rfc3161.Rejection(r), "rejection", r.Info.String()
	}
	s.log.Debug("token issued", "serial", iss.Info.Serial.Text(16), "gen_time", iss.Info.GenTime, "signers", iss.Signers)
	return out, "granted", ""
}

func (s *Server) handleCerts(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(s.cfg.CertsPEM)
}

// NodeReport is one oracle in the /readyz body.
type NodeReport struct {
	Address     string `json:"address"`
	ID          uint8  `json:"id,omitempty"`
	Ready       bool   `json:"ready"`
	State       string `json:"state,omitempty"`
	Mode        string `json:"mode,omitempty"`
	Attestation string `json:"attestation,omitempty"`
	Clock       struct {
		Trusted    bool   `json:"trusted"`
		Source     string `json:"source,omitempty"`
		AccuracyUS uint64 `json:"accuracy_us,omitempty"`
	} `json:"clock"`
	Label         string `json:"label,omitempty"`
	MLDSAPool     uint16 `json:"mldsa_round1_pool"`
	Presignatures uint16 `json:"ecdsa_presignatures"`
	Failures      int    `json:"recent_failures,omitempty"`
	SetAside      bool   `json:"set_aside,omitempty"`
	LastFailure   string `json:"last_failure,omitempty"`
	Error         string `json:"error,omitempty"`
}

// ReadyReport is the /readyz body.
type ReadyReport struct {
	Ready     bool         `json:"ready"`
	Mode      string       `json:"mode"`
	Simulated bool         `json:"attestation_simulated"`
	Threshold int          `json:"threshold"`
	ReadyN    int          `json:"ready_oracles"`
	Nodes     []NodeReport `json:"oracles"`
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	rep := ReadyReport{Mode: s.cfg.Mode, Simulated: s.cfg.Simulated, Threshold: s.cfg.Issuer.Threshold()}
	for _, n := range s.cfg.Issuer.Nodes() {
		st, err, _ := n.Status()
		nr := NodeReport{Address: n.Client.Addr()}
		if err != nil {
			nr.Error = err.Error()
		}
		if st != nil {
			nr.ID, nr.State, nr.Mode = st.NodeID, st.State.String(), st.Mode.String()
			nr.Attestation, nr.Label = st.Attestation.String(), st.Label
			nr.Clock.Trusted, nr.Clock.Source, nr.Clock.AccuracyUS = st.ClockTrusted, st.ClockSource, st.ClockAccuracyMicros
			nr.MLDSAPool, nr.Presignatures = st.MLDSAPool, st.Presignatures
		}
		nr.Ready = n.Ready()
		h := n.Health()
		nr.Failures, nr.SetAside, nr.LastFailure = h.Failures, h.Benched, h.LastFail
		if nr.Ready {
			rep.ReadyN++
		}
		rep.Nodes = append(rep.Nodes, nr)
	}
	rep.Ready = rep.ReadyN >= rep.Threshold
	w.Header().Set("Content-Type", "application/json")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// AttestedNode is one oracle in the /attest body.
type AttestedNode struct {
	Node        uint8  `json:"node"`
	Attestation string `json:"attestation"`
	Identity    []byte `json:"identity"` // peer.PublicKeys encoding
	// Claim is the membership claim the evidence binds (cluster, epoch,
	// node index, shape and identity keys; membership.Claim encoding).
	Claim    []byte `json:"claim"`
	Evidence []byte `json:"evidence"` // attest.Evidence encoding
}

func (s *Server) handleAttest(w http.ResponseWriter, r *http.Request) {
	raw, err := hex.DecodeString(r.URL.Query().Get("nonce"))
	if err != nil || len(raw) != wire.NonceSize {
		http.Error(w, fmt.Sprintf("nonce must be %d bytes of hex", wire.NonceSize), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	hellos, err := s.cfg.Attest(ctx, [wire.NonceSize]byte(raw))
	if err != nil {
		http.Error(w, "attestation failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	out := make([]AttestedNode, 0, len(hellos))
	for _, h := range hellos {
		out = append(out, AttestedNode{Node: h.NodeID, Attestation: h.Attestation.String(), Identity: h.Identity, Claim: membership.ClaimOf(h).Marshal(), Evidence: h.Evidence})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// loopbackOnly answers 403 and returns false unless r comes from the
// loopback interface.
func loopbackOnly(w http.ResponseWriter, r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "administration is allowed from the loopback interface only", http.StatusForbidden)
		return false
	}
	return true
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if !loopbackOnly(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	if err := s.cfg.Refresh(ctx); err != nil {
		s.log.Error("share refresh failed", "err", err)
		http.Error(w, "share refresh failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ECDSA shares refreshed on every member\n")
}

func (s *Server) handleReplace(w http.ResponseWriter, r *http.Request) {
	if !loopbackOnly(w, r) {
		return
	}
	id, err := strconv.Atoi(r.URL.Query().Get("node"))
	if err != nil || id < 1 || id > 6 {
		http.Error(w, "node must be a node id", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	if err := s.cfg.Replace(ctx, uint8(id)); err != nil {
		s.log.Error("node replacement failed", "node", id, "err", err)
		http.Error(w, "replacement failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.log.Info("node replaced", "node", id)
	io.WriteString(w, fmt.Sprintf("node %d replaced\n", id))
}
