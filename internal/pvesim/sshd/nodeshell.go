package sshd

import (
	"bytes"
	"fmt"
	"io"
	"syscall"
)

// builtin is a node command the simulator runs itself instead of starting a
// process: the few coreutils and pct commands real clients use to read and
// write container configs over SSH.
type builtin struct {
	// writeError prefixes the report of a failed write to a redirected
	// stdout, e.g. "cat: write error".
	writeError string
	run        func(sh *shellRun, args []string) uint32
}

// builtinFor finds the builtin for a command line, or nil. Without
// ConfigFiles the server knows only pct exec.
func (s *Server) builtinFor(cl commandLine) *builtin {
	words := cl.words
	switch {
	case s.configs == nil:
		return nil
	case len(words) == 0 && len(cl.redirects) > 0:
		// A bare "> file" opens (and so truncates) the file and runs nothing.
		return &builtin{writeError: "bash: write error"}
	case len(words) == 0:
		return nil
	}
	switch words[0] {
	case "cat", "/bin/cat", "/usr/bin/cat":
		return &builtin{writeError: "cat: write error", run: runCat}
	case "tee", "/bin/tee", "/usr/bin/tee":
		return &builtin{writeError: "tee: standard output", run: runTee}
	case "echo":
		return &builtin{writeError: "bash: echo: write error", run: runEcho}
	case "/bin/echo", "/usr/bin/echo":
		return &builtin{writeError: "echo: write error", run: runEcho}
	case "pct", "/usr/sbin/pct":
		if len(words) > 1 && (words[1] == "config" || words[1] == "list") {
			return &builtin{writeError: "pct: write error", run: runPctRead}
		}
	}
	return nil
}

// simulatedPct names the pct subcommands this server runs.
func (s *Server) simulatedPct() string {
	if s.configs == nil {
		return "only 'pct exec' is"
	}
	return "only 'pct exec', 'pct config' and 'pct list' are"
}

// shellRun is one builtin with its redirections applied.
type shellRun struct {
	srv    *Server
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// truncated and appended are the configs this command line opened with
	// '>' and '>>': bash opens them before the command runs, so a read of a
	// truncated one sees an empty file.
	truncated map[nodePath]bool
	appended  map[nodePath]bool
}

func (sh *shellRun) errorf(format string, args ...any) {
	fmt.Fprintf(sh.stderr, format, args...)
}

// openedOutput is a redirection target whose bytes are stored when the
// command has finished.
type openedOutput struct {
	np     nodePath
	target string // as the command named it
	append bool
	buf    limitedBuffer
}

// runBuiltin applies cl's redirections the way bash does (left to right, the
// first that fails aborts the command with status 1), runs the builtin and
// stores what it wrote to config files.
func (ss *session) runBuiltin(cl commandLine, b *builtin) exitReport {
	sh := &shellRun{
		srv: ss.srv, stdin: ss.ch, stdout: ss.ch, stderr: ss.ch.Stderr(),
		truncated: map[nodePath]bool{}, appended: map[nodePath]bool{},
	}
	var outputs []*openedOutput
	for _, r := range cl.redirects {
		out, err := sh.open(r)
		if err != nil {
			sh.errorf("%s", fileErrorLine("bash", r.target, err))
			return exitReport{status: 1}
		}
		if out != nil {
			outputs = append(outputs, out)
		}
	}
	status := uint32(0)
	if b.run != nil {
		status = b.run(sh, cl.words[1:])
	}
	for _, out := range outputs {
		if err := sh.commit(out); err != nil {
			sh.errorf("%s", writeErrorLine(b.writeError, err))
			status = 1
		}
	}
	return exitReport{status: status}
}

// open applies one redirection; a config file gets an output buffer.
func (sh *shellRun) open(r redirect) (*openedOutput, error) {
	np := sh.srv.resolvePath(r.target)
	if r.fd != 1 && r.fd != 2 {
		return nil, fmt.Errorf("redirecting file descriptor %d is not simulated", r.fd)
	}
	if err := sh.srv.checkWritable(np); err != nil {
		return nil, err
	}
	w := io.Discard
	var out *openedOutput
	if np.kind == pathConfig {
		if r.fd == 2 {
			return nil, fmt.Errorf("redirecting stderr to a container config is not simulated")
		}
		out = &openedOutput{np: np, target: r.target, append: r.append}
		w = &out.buf
		if r.append {
			sh.appended[np] = true
		} else {
			sh.truncated[np] = true
		}
	}
	if r.fd == 1 {
		sh.stdout = w
	} else {
		sh.stderr = w
	}
	return out, nil
}

// commit stores an output buffer; an append goes after whatever the file
// holds by then, as pmxcfs appends at write time.
func (sh *shellRun) commit(out *openedOutput) error {
	if out.buf.overflow {
		return syscall.EFBIG
	}
	text := out.buf.String()
	if out.append {
		old, err := sh.srv.configs.ReadConfigFile(out.np.node, out.np.vmid)
		if err != nil {
			return err
		}
		text = old + text
	}
	return sh.srv.configs.WriteConfigFile(out.np.node, out.np.vmid, text)
}

// limitedBuffer keeps at most MaxConfigFileSize+1 bytes: a longer file is
// refused anyway, and a client must not be able to fill the memory.
type limitedBuffer struct {
	bytes.Buffer
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := MaxConfigFileSize + 1 - b.Len(); len(p) > room {
		b.overflow = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
