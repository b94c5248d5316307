// Package oracleclient is the wrapper's side of the oracle protocol: a
// client that multiplexes concurrent requests over one connection to a
// signing oracle (see package github.com/cc-tsa/cc-tsa/cvm/wire).
package oracleclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/transport"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// ErrClosed is returned for requests on a closed or broken connection.
var ErrClosed = errors.New("oracleclient: connection closed")

// Client is a connection to one oracle. It is safe for concurrent use.
type Client struct {
	addr string
	conn net.Conn

	wmu sync.Mutex
	w   *bufio.Writer

	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]chan wire.Frame
	err     error // set once the connection is broken
	done    chan struct{}
}

// Dial connects to the oracle at addr (unix:PATH or vsock:CID:PORT).
func Dial(ctx context.Context, addr string) (*Client, error) {
	c, err := transport.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("oracleclient: dial %s: %w", addr, err)
	}
	cl := &Client{
		addr:    addr,
		conn:    c,
		w:       bufio.NewWriter(c),
		pending: make(map[uint32]chan wire.Frame),
		done:    make(chan struct{}),
	}
	go cl.readLoop()
	return cl, nil
}

// Addr returns the address the client is connected to.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection; pending requests fail with ErrClosed.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// Err returns the error that broke the connection, or nil while it works.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) readLoop() {
	defer close(c.done)
	r := bufio.NewReader(c.conn)
	for {
		f, err := wire.ReadFrame(r)
		if err != nil {
			c.fail(fmt.Errorf("%w: %v", ErrClosed, err))
			return
		}
		c.mu.Lock()
		ch, ok := c.pending[f.ID]
		delete(c.pending, f.ID)
		issued := f.ID != 0 && f.ID <= c.nextID
		c.mu.Unlock()
		switch {
		case ok:
			ch <- f
		case issued:
			// The caller gave up on this request (its context ended);
			// the late answer is dropped.
		default:
			c.fail(fmt.Errorf("%w: response for request id %d, which was never sent", ErrClosed, f.ID))
			return
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.conn.Close()
}

// call sends one request and waits for its response frame. An Error frame
// from the oracle is returned as a *wire.Error.
func (c *Client) call(ctx context.Context, t wire.Type, payload []byte, want wire.Type) ([]byte, error) {
	ch := make(chan wire.Frame, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	c.wmu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetWriteDeadline(dl)
	} else {
		c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	}
	err := wire.WriteFrame(c.w, wire.Frame{Type: t, ID: id, Payload: payload})
	if err == nil {
		err = c.w.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("%w: write: %v", ErrClosed, err))
		return nil, fmt.Errorf("oracleclient: %v to %s: %w", t, c.addr, err)
	}

	select {
	case f, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		switch f.Type {
		case want:
			return f.Payload, nil
		case wire.TypeError:
			var we wire.Error
			if err := we.Unmarshal(f.Payload); err != nil {
				return nil, fmt.Errorf("oracleclient: %v to %s: undecodable error: %w", t, c.addr, err)
			}
			return nil, &we
		}
		return nil, fmt.Errorf("oracleclient: %v to %s: unexpected response %v", t, c.addr, f.Type)
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("oracleclient: %v to %s: %w", t, c.addr, ctx.Err())
	}
}

type unmarshaler interface{ Unmarshal([]byte) error }

func (c *Client) roundTrip(ctx context.Context, t wire.Type, req interface{ Marshal() ([]byte, error) }, want wire.Type, resp unmarshaler) error {
	var payload []byte
	if req != nil {
		var err error
		if payload, err = req.Marshal(); err != nil {
			return fmt.Errorf("oracleclient: encoding %v: %w", t, err)
		}
	}
	p, err := c.call(ctx, t, payload, want)
	if err != nil {
		return err
	}
	if resp == nil {
		if len(p) != 0 {
			return fmt.Errorf("oracleclient: %v from %s carries a payload", want, c.addr)
		}
		return nil
	}
	if err := resp.Unmarshal(p); err != nil {
		return fmt.Errorf("oracleclient: %v from %s: %w", want, c.addr, err)
	}
	return nil
}

// Status asks for the oracle's status.
func (c *Client) Status(ctx context.Context) (*wire.Status, error) {
	var s wire.Status
	if err := c.roundTrip(ctx, wire.TypeStatusRequest, nil, wire.TypeStatusResponse, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Install gives the oracle its certificates.
func (c *Client) Install(ctx context.Context, req *wire.InstallRequest) error {
	return c.roundTrip(ctx, wire.TypeInstallRequest, req, wire.TypeOK, nil)
}

// Propose asks the leader for a proposal for the signer set req.Signers.
func (c *Client) Propose(ctx context.Context, req *wire.ProposeRequest) (*wire.Proposal, error) {
	var p wire.Proposal
	if err := c.roundTrip(ctx, wire.TypeProposeRequest, req, wire.TypeProposal, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Begin opens a session on a signer.
func (c *Client) Begin(ctx context.Context, req *wire.BeginRequest) (*wire.BeginResponse, error) {
	var r wire.BeginResponse
	if err := c.roundTrip(ctx, wire.TypeBeginRequest, req, wire.TypeBeginResponse, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Round relays one round of a signature scheme.
func (c *Client) Round(ctx context.Context, req *wire.RoundRequest) (*wire.RoundResponse, error) {
	var r wire.RoundResponse
	if err := c.roundTrip(ctx, wire.TypeRoundRequest, req, wire.TypeRoundResponse, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Attach hands a signer the combined ML-DSA signature.
func (c *Client) Attach(ctx context.Context, req *wire.AttachRequest) (*wire.AttachResponse, error) {
	var r wire.AttachResponse
	if err := c.roundTrip(ctx, wire.TypeAttachRequest, req, wire.TypeAttachResponse, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

type rawPayload []byte

func (r rawPayload) Marshal() ([]byte, error) { return r, nil }

// End discards a session on a signer.
func (c *Client) End(ctx context.Context, id wire.SessionID) error {
	return c.roundTrip(ctx, wire.TypeEndRequest, rawPayload(id[:]), wire.TypeOK, nil)
}

// Hello asks the oracle for its identity and attestation evidence bound to
// its membership claim and req.Nonce.
func (c *Client) Hello(ctx context.Context, req *wire.HelloRequest) (*wire.Hello, error) {
	var h wire.Hello
	if err := c.roundTrip(ctx, wire.TypeHelloRequest, req, wire.TypeHello, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Peers tells the oracle who its peers are.
func (c *Client) Peers(ctx context.Context, req *wire.PeersRequest) error {
	return c.roundTrip(ctx, wire.TypePeersRequest, req, wire.TypeOK, nil)
}

// Relay advances one step of a relayed protocol.
func (c *Client) Relay(ctx context.Context, req *wire.RelayRequest) (*wire.RelayResponse, error) {
	var r wire.RelayResponse
	if err := c.roundTrip(ctx, wire.TypeRelayRequest, req, wire.TypeRelayResponse, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// BeginCSR opens the certification-request signing session on a signer.
func (c *Client) BeginCSR(ctx context.Context, req *wire.BeginCSRRequest) (*wire.BeginResponse, error) {
	var r wire.BeginResponse
	if err := c.roundTrip(ctx, wire.TypeBeginCSRRequest, req, wire.TypeBeginResponse, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
