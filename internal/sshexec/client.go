package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// killGrace is how long a killed command's session may take to wind down
// before the connection is dropped. Closing the TCP connection right after the
// kill request could discard it in flight; waiting lets the server act on it.
const killGrace = 2 * time.Second

// Client is the Runner that talks to real (or simulated) Proxmox nodes. It
// opens one SSH connection per Exec, so it holds no connections and is safe
// for concurrent use.
type Client struct {
	cfg      Config // PrivateKeyPEM cleared; the parsed signer is kept instead
	signer   ssh.Signer
	hostKeys *hostKeyDB
}

var _ Runner = (*Client)(nil)

// New validates cfg, parses the key and known_hosts once, and applies defaults.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	signer, err := parsePrivateKey(cfg.PrivateKeyPEM)
	if err != nil {
		return nil, err
	}
	hostKeys, err := parseKnownHosts(cfg.KnownHosts)
	if err != nil {
		return nil, err
	}
	cfg.PrivateKeyPEM = nil
	return &Client{cfg: cfg, signer: signer, hostKeys: hostKeys}, nil
}

// parsePrivateKey never includes the parser's error text: it is not meant to
// carry key material, but nothing guarantees that.
func parsePrivateKey(pemBytes []byte) (ssh.Signer, error) {
	if len(pemBytes) == 0 {
		return nil, errors.New("sshexec: no private key configured")
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, errors.New("sshexec: private key is passphrase-protected; an unencrypted key is required")
	case err != nil:
		return nil, errors.New("sshexec: private key is not a valid unencrypted OpenSSH or PEM private key")
	}
	return signer, nil
}

// Exec implements Runner.
func (c *Client) Exec(ctx context.Context, target Target, vmid int, script string) (Result, error) {
	start := time.Now()
	res, err := c.exec(ctx, target, vmid, script)
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("exec in CT %d on %s: %w", vmid, target, err)
	}
	return res, nil
}

func (c *Client) exec(ctx context.Context, target Target, vmid int, script string) (Result, error) {
	noStatus := Result{ExitCode: -1}
	if err := validateRequest(vmid, script); err != nil {
		return noStatus, err
	}
	addr, err := c.address(target)
	if err != nil {
		return noStatus, err
	}
	conn, err := c.connect(ctx, addr)
	if err != nil {
		return noStatus, err
	}
	defer conn.Close()

	res, err := c.run(ctx, conn, pctExecCommand(vmid), script)
	if err != nil {
		return res, err
	}
	return res, pctFailure(res, vmid)
}

// run starts command with script on its stdin and waits for it, its timeout,
// or ctx; on the latter two the remote command is killed.
func (c *Client) run(ctx context.Context, conn *ssh.Client, command, script string) (Result, error) {
	sess, err := conn.NewSession()
	if err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("open ssh session: %w", err)
	}
	defer sess.Close()
	stdout, stderr := newTailBuffer(c.cfg.MaxOutputBytes), newTailBuffer(c.cfg.MaxOutputBytes)
	sess.Stdout, sess.Stderr = stdout, stderr
	sess.Stdin = scriptStream(script)
	if err := sess.Start(command); err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("start remote command: %w", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()

	cmdCtx, cancel := context.WithTimeoutCause(ctx, c.cfg.CommandTimeout, ErrCommandTimeout)
	defer cancel()
	var waitErr, abortErr error
	select {
	case waitErr = <-waited:
	case <-cmdCtx.Done():
		waitErr = killRemote(sess, conn, waited)
		abortErr = context.Cause(cmdCtx)
	}
	// Wait has returned, so the output buffers are no longer written to.
	res := Result{
		ExitCode:  -1,
		Stdout:    stdout.Bytes(),
		Stderr:    stderr.Bytes(),
		Truncated: stdout.truncated || stderr.truncated,
	}
	switch {
	case errors.Is(abortErr, ErrCommandTimeout):
		return res, fmt.Errorf("%w after %s; killed it", ErrCommandTimeout, c.cfg.CommandTimeout)
	case abortErr != nil:
		return res, fmt.Errorf("remote command aborted and killed: %w", abortErr)
	}
	return exitResult(res, waitErr)
}

// killRemote asks the server to SIGKILL the command and closes the session (a
// server that ignores signal requests, or does not map them to the whole
// process tree, may still act on the close), then drops the connection if the
// session has not wound down within killGrace. It returns Wait's result.
func killRemote(sess *ssh.Session, conn *ssh.Client, waited <-chan error) error {
	_ = sess.Signal(ssh.SIGKILL)
	_ = sess.Close()
	select {
	case err := <-waited:
		return err
	case <-time.After(killGrace):
	}
	_ = conn.Close()
	return <-waited
}

func exitResult(res Result, waitErr error) (Result, error) {
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case waitErr == nil:
		res.ExitCode = 0
	case errors.As(waitErr, &exitErr):
		res.ExitCode = exitErr.ExitStatus()
	case errors.As(waitErr, &missing):
		return res, fmt.Errorf("remote command ended without an exit status (connection lost?): %w", waitErr)
	default:
		return res, fmt.Errorf("wait for remote command: %w", waitErr)
	}
	return res, nil
}

func (c *Client) address(t Target) (string, error) {
	if t.Host == "" {
		return "", fmt.Errorf("sshexec: target %q has no host", t.Node)
	}
	port := t.Port
	if port == 0 {
		port = c.cfg.Port
	}
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("sshexec: invalid port %d for %s", port, t)
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port)), nil
}
