package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BuildManager compiles cmd/manager into dir and returns the binary's path.
// Benchmarks and crash tests run the real binary as a child process, so that
// its memory and CPU are its own and SIGKILL ends it the way a node failure
// or an OOM kill would.
func BuildManager(dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/manager: %w\n%s", err, out)
	}
	return bin, nil
}

// ManagerProcess is the manager binary running as a child process.
type ManagerProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartManager starts bin against the apiserver in kubeconfig with its
// probe and metrics listeners off (several may run one after another on one
// machine), appending its log to logPath. args are extra flags.
func StartManager(bin, kubeconfig, logPath string, args ...string) (*ManagerProcess, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	full := append([]string{"--health-probe-bind-address=0", "--metrics-bind-address=0", "--kubeconfig=" + kubeconfig}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The child must not outlive a test binary that is itself killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	p := &ManagerProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process ID.
func (p *ManagerProcess) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended (by itself or killed).
func (p *ManagerProcess) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to be gone: nothing it had in
// flight gets to finish, no deferred status write, no graceful shutdown.
func (p *ManagerProcess) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM (the manager's graceful shutdown) and waits up to
// timeout before killing it. It reports an exit other than a clean one.
func (p *ManagerProcess) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("manager did not stop within %s after SIGTERM", timeout)
	}
	return p.err
}

// Usage is what the kernel accounted to the process.
type Usage struct {
	// PeakRSSBytes is the high-water mark of resident memory.
	PeakRSSBytes int64
	// CPUSeconds is user plus system CPU time.
	CPUSeconds float64
}

// Usage reads the process's usage: from /proc while it runs, from wait4's
// rusage once it has exited.
func (p *ManagerProcess) Usage() (Usage, error) {
	if p.Exited() {
		ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return Usage{}, errors.New("no rusage for the exited manager")
		}
		cpu := time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) * time.Nanosecond
		return Usage{PeakRSSBytes: ru.Maxrss * 1024, CPUSeconds: cpu.Seconds()}, nil
	}
	return procUsage(p.Pid())
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func procUsage(pid int) (Usage, error) {
	var u Usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return u, fmt.Errorf("parse VmHWM %q: %w", v, err)
			}
			u.PeakRSSBytes = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name (which may hold spaces) in parentheses;
	// utime and stime are fields 14 and 15 of the whole line.
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return u, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, err
	}
	u.CPUSeconds = float64(ut+st) / clockTicks
	return u, nil
}

// KeepLog copies a manager's log out of a test's temporary directory, which
// is removed when the test ends, into the system's temporary directory as
// pve-operator-<what>-<unix time>.log, and returns where (or "" when the
// log cannot be read or written). Tests call it when they failed.
func KeepLog(path, what string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	out := filepath.Join(os.TempDir(), fmt.Sprintf("pve-operator-%s-%d.log", what, time.Now().Unix()))
	if os.WriteFile(out, data, 0o600) != nil {
		return ""
	}
	return out
}
