package sshd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// containerPath is the PATH a root shell inside a Debian-like container gets.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// sshSignals maps RFC 4254 signal names to the signals sent to the command.
var sshSignals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

// session is one SSH session channel running at most one command.
type session struct {
	srv *Server
	ch  ssh.Channel

	mu      sync.Mutex
	started bool          // an exec request was accepted
	done    chan struct{} // closed when the command goroutine returns
	pid     int           // process group of the running command, 0 if none
	exited  bool          // the command was reaped; pid may be reused
	gone    bool          // the channel is closed: start nothing, kill what runs
}

func (s *Server) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer s.wg.Done()
	sess := &session{srv: s, ch: ch}
	for req := range reqs {
		switch req.Type {
		case "exec":
			sess.handleExec(req)
		case "signal":
			sess.handleSignal(req)
		default: // pty-req, env, shell, subsystem: not simulated
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
	// The request stream ends when the client closed the channel or the
	// connection dropped. A client that gives up on a command (timeout, ctx
	// cancel) does exactly that, and expects the command to die with it.
	sess.killAndForget()
	sess.waitDone()
	_ = ch.Close()
}

func (ss *session) handleExec(req *ssh.Request) {
	var payload struct{ Command string }
	ss.mu.Lock()
	ok := !ss.started && ssh.Unmarshal(req.Payload, &payload) == nil
	if ok {
		ss.started = true
		ss.done = make(chan struct{})
	}
	ss.mu.Unlock()
	if req.WantReply {
		_ = req.Reply(ok, nil)
	}
	if !ok {
		return
	}
	go func() {
		defer close(ss.done)
		exit := ss.run(payload.Command)
		_, _ = ss.ch.SendRequest(exit.requestType(), false, exit.payload())
		_ = ss.ch.Close()
	}()
}

func (ss *session) handleSignal(req *ssh.Request) {
	var payload struct{ Signal string }
	sig, known := syscall.Signal(0), false
	if ssh.Unmarshal(req.Payload, &payload) == nil {
		sig, known = sshSignals[payload.Signal]
	}
	if known {
		ss.signalGroup(sig)
	}
	if req.WantReply {
		_ = req.Reply(known, nil)
	}
}

// maxArgStrlen is Linux's MAX_ARG_STRLEN: execve refuses with E2BIG any
// one argument of this many bytes or more (its terminating NUL counted).
const maxArgStrlen = 128 << 10

// run executes one exec request to completion and reports how it ended.
func (ss *session) run(line string) exitReport {
	// OpenSSH's sshd runs the command as `<login shell> -c <command>`: the
	// whole command line is one argument, and when execve refuses it sshd's
	// child reports it with perror and exits 1.
	if len(line)+1 > maxArgStrlen {
		_, _ = io.WriteString(ss.ch.Stderr(), "/bin/bash: Argument list too long\n")
		ss.srv.logf("sshd: a %d-byte command line rejected with E2BIG", len(line))
		return exitReport{status: 1}
	}
	cl, err := parseCommandLine(line)
	var (
		req pctExec
		rej *rejection
	)
	switch b := ss.srv.builtinFor(cl); {
	case err != nil:
		rej = &rejection{stderr: err.Error() + "\n", status: exitShellSyntax}
	case b != nil:
		exit := ss.runBuiltin(cl, b)
		ss.srv.logf("sshd: %q ended: %s", line, exit)
		return exit
	default:
		req, rej = parsePctExec(cl, ss.srv.simulatedPct())
	}
	if rej == nil {
		rej = checkContainer(req, ss.srv.nodeName, ss.srv.containers)
	}
	if rej != nil {
		_, _ = io.WriteString(ss.ch.Stderr(), rej.stderr)
		ss.srv.logf("sshd: %q rejected with status %d", line, rej.status)
		return exitReport{status: rej.status}
	}
	exit := ss.runInContainer(req)
	ss.srv.logf("sshd: CT %d: %q ended: %s", req.vmid, line, exit)
	return exit
}

// runInContainer runs argv directly (no shell), as lxc-attach does, in the
// container's scratch directory and in its own process group so that killing
// the group also kills anything the command spawned.
func (ss *session) runInContainer(req pctExec) exitReport {
	dir := ss.srv.ScratchDir(req.vmid)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(ss.ch.Stderr(), "pvesim: create scratch dir for CT %d: %v\n", req.vmid, err)
		return exitReport{status: exitPctError}
	}
	unmount, err := ss.srv.mountVolumes(req.vmid, dir)
	if err != nil {
		fmt.Fprintf(ss.ch.Stderr(), "pvesim: CT %d: mount its volumes: %v\n", req.vmid, err)
		return exitReport{status: exitPctError}
	}
	// Every way out below, a kill or timeout included, ends the process
	// first, so the volumes get what it left.
	defer unmount()
	cmd := exec.Command(req.argv[0], req.argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + containerPath}
	cmd.Stdout = ss.ch
	cmd.Stderr = ss.ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintf(ss.ch.Stderr(), "pvesim: stdin pipe: %v\n", err)
		return exitReport{status: exitPctError}
	}
	if err := ss.start(cmd); err != nil {
		// lxc-attach's wording; its exit status here is an approximation.
		fmt.Fprintf(ss.ch.Stderr(), "lxc-attach: %d: Failed to exec %q: %v\n", req.vmid, req.argv[0], err)
		return exitReport{status: exitPctError}
	}
	go func() {
		// Ends at the client's EOF or when the channel closes.
		_, _ = io.Copy(stdin, ss.ch)
		_ = stdin.Close()
	}()
	// Wait's error only repeats what ProcessState says, or reports a failed
	// copy to a channel the client already closed.
	_ = cmd.Wait()
	ss.mu.Lock()
	ss.exited = true
	ss.mu.Unlock()
	return exitReportFor(cmd.ProcessState)
}

func (ss *session) start(cmd *exec.Cmd) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.gone {
		return errors.New("session closed")
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ss.pid = cmd.Process.Pid
	return nil
}

func (ss *session) signalGroup(sig syscall.Signal) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	// Once reaped, the pid may belong to someone else: never signal it then.
	// (Wait reaps before it sets exited, but a pid that still names a process
	// group cannot be reused, and an empty group lets Wait return at once.)
	if ss.pid != 0 && !ss.exited {
		_ = syscall.Kill(-ss.pid, sig)
	}
}

func (ss *session) killAndForget() {
	ss.mu.Lock()
	ss.gone = true
	ss.mu.Unlock()
	ss.signalGroup(syscall.SIGKILL)
}

func (ss *session) waitDone() {
	ss.mu.Lock()
	done := ss.done
	ss.mu.Unlock()
	if done != nil {
		<-done
	}
}

// exitReport is how a command ended: an exit status, or the signal that
// killed it (reported as "exit-signal", like OpenSSH's sshd does).
type exitReport struct {
	status uint32
	signal string
}

func exitReportFor(state *os.ProcessState) exitReport {
	if state == nil {
		return exitReport{status: exitPctError}
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		for name, sig := range sshSignals {
			if sig == ws.Signal() {
				return exitReport{signal: name}
			}
		}
		return exitReport{status: 128 + uint32(ws.Signal())}
	}
	return exitReport{status: uint32(state.ExitCode())}
}

func (e exitReport) requestType() string {
	if e.signal != "" {
		return "exit-signal"
	}
	return "exit-status"
}

func (e exitReport) payload() []byte {
	if e.signal != "" {
		return ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{Signal: e.signal})
	}
	return ssh.Marshal(struct{ Status uint32 }{e.status})
}

func (e exitReport) String() string {
	if e.signal != "" {
		return "signal " + e.signal
	}
	return fmt.Sprintf("exit status %d", e.status)
}
