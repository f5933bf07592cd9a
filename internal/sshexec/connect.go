package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// connect dials addr and completes the SSH handshake (host key check, login)
// within Config.ConnectTimeout, or fails with a classified error.
func (c *Client) connect(ctx context.Context, addr string) (*ssh.Client, error) {
	dialCtx, cancel := context.WithTimeoutCause(ctx, c.cfg.ConnectTimeout, ErrConnectTimeout)
	defer cancel()

	var d net.Dialer
	nc, err := d.DialContext(dialCtx, "tcp", addr)
	if err != nil {
		return nil, c.connectError(ctx, dialCtx, addr, err, true)
	}
	// ssh.NewClientConn takes no context: give the socket the same deadline,
	// and pull the deadline in if ctx is cancelled mid-handshake.
	deadline, _ := dialCtx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(dialCtx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })

	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, c.clientConfig(addr))
	if !stop() && err == nil {
		// ctx ended just as the handshake finished; the socket's deadline is
		// now in the past, so the connection is unusable.
		_ = sc.Close()
		err = context.Cause(dialCtx)
	}
	if err != nil {
		_ = nc.Close()
		return nil, c.connectError(ctx, dialCtx, addr, err, false)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

func (c *Client) clientConfig(addr string) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              c.cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(c.signer)},
		HostKeyCallback:   c.hostKeys.check,
		HostKeyAlgorithms: c.hostKeys.hostKeyAlgorithms(addr),
	}
}

// connectError classifies a failed dial (dialing=true) or handshake.
func (c *Client) connectError(ctx, dialCtx context.Context, addr string, err error, dialing bool) error {
	if timedOut(ctx, dialCtx, err) {
		if ctx.Err() != nil || callerDeadlineFirst(ctx, dialCtx) {
			return fmt.Errorf("connect to %s: %w", addr, context.Cause(ctx))
		}
		return fmt.Errorf("%w: %s within %s: %w", ErrConnectTimeout, addr, c.cfg.ConnectTimeout, err)
	}
	switch {
	case IsHostKeyError(err): // our callback's errors already say what went wrong
		return fmt.Errorf("verify host %s: %w", addr, err)
	case dialing:
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	case isAuthFailure(err):
		return fmt.Errorf("%w: %s as %q: %w", ErrAuth, addr, c.cfg.User, err)
	}
	return fmt.Errorf("ssh handshake with %s: %w", addr, err)
}

// timedOut reports whether err came from a context or socket deadline.
func timedOut(ctx, dialCtx context.Context, err error) bool {
	var ne net.Error
	return ctx.Err() != nil || dialCtx.Err() != nil ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// callerDeadlineFirst reports whether the caller's own deadline, not
// ConnectTimeout, is the one a socket timeout came from.
func callerDeadlineFirst(ctx, dialCtx context.Context) bool {
	callerDeadline, ok := ctx.Deadline()
	if !ok {
		return false
	}
	dialDeadline, _ := dialCtx.Deadline()
	return !callerDeadline.After(dialDeadline)
}

// isAuthFailure recognises x/crypto's only report of a rejected login, which
// is an untyped error.
func isAuthFailure(err error) bool {
	return strings.Contains(err.Error(), "ssh: unable to authenticate")
}
