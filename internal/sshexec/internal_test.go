package sshexec

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name      string
		limit     int
		writes    []string
		want      string
		wantTrunc bool
	}{
		{name: "output under the limit is kept whole", limit: 8, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "output exactly at the limit is not truncated", limit: 6, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "small writes past the limit keep the tail", limit: 4, writes: []string{"abc", "def", "g"}, want: "defg", wantTrunc: true},
		{name: "one write larger than the limit keeps its tail", limit: 4, writes: []string{"ab", "cdefghij"}, want: "ghij", wantTrunc: true},
		{name: "a write of exactly the limit replaces earlier output", limit: 4, writes: []string{"ab", "wxyz"}, want: "wxyz", wantTrunc: true},
		{name: "a first write of exactly the limit is whole", limit: 4, writes: []string{"wxyz"}, want: "wxyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTailBuffer(tt.limit)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if string(b.Bytes()) != tt.want || b.truncated != tt.wantTrunc {
				t.Errorf("got %q (truncated %v), want %q (truncated %v)", b.Bytes(), b.truncated, tt.want, tt.wantTrunc)
			}
		})
	}
}

// TestShellQuote hands quoted words to a real POSIX shell and checks each
// arrives as exactly one unchanged argument.
func TestShellQuote(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "plain text", in: "echo hello"},
		{name: "empty", in: ""},
		{name: "single quotes", in: `it's 'quoted'`},
		{name: "only a single quote", in: `'`},
		{name: "shell syntax stays literal", in: "$HOME `id` $(id) ; | & > < * ? ~ #"},
		{name: "backslashes and double quotes", in: `a\b "c" \'`},
		{name: "newlines and tabs", in: "line1\n\tline2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command("/bin/sh", "-c", `printf '%s|' `+shellQuote(tt.in)).Output()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.in+"|" {
				t.Errorf("sh saw %q, want %q", out, tt.in+"|")
			}
		})
	}
}

// TestReceiveScript runs the receiver in a real POSIX shell, as pct exec
// would in the container, with the script on its stdin.
func TestReceiveScript(t *testing.T) {
	quotes := strings.Repeat(`'"\$`+"`", (MaxScriptBytes-64)/5)
	tests := []struct {
		name     string
		stdin    string
		wantOut  string
		wantCode int
	}{
		{name: "a script runs with its output and exit status",
			stdin: "echo hello; exit 3" + scriptEnd, wantOut: "hello\n", wantCode: 3},
		{name: "trailing newlines and quotes arrive byte for byte",
			stdin: "cat <<'EOF'\nit's \"$HOME\"\n\n\nEOF\n\n\n" + scriptEnd, wantOut: "it's \"$HOME\"\n\n\n"},
		{name: "a script near the limit made of quotes arrives whole",
			stdin:   "cat <<'EOF'\n" + quotes + "\nEOF\n" + scriptEnd,
			wantOut: quotes + "\n"},
		{name: "the script's own stdin is empty",
			stdin: "cat; echo done" + scriptEnd, wantOut: "done\n"},
		{name: "a script cut short is not run",
			stdin: "echo ran" + scriptEnd[:5], wantCode: 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", "-c", receiveScript)
			cmd.Stdin = strings.NewReader(tt.stdin)
			out, err := cmd.Output()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.wantOut || code != tt.wantCode {
				t.Errorf("got %d bytes (exit %d), want %d bytes (exit %d)", len(out), code, len(tt.wantOut), tt.wantCode)
			}
		})
	}
	if got := pctExecCommand(100); !strings.HasPrefix(got, "pct exec 100 -- /bin/sh -c '") {
		t.Errorf("pctExecCommand = %q, want a pct exec of /bin/sh -c", got)
	}
}

func TestPctFailure(t *testing.T) {
	tests := []struct {
		name    string
		res     Result
		wantErr error
	}{
		{name: "a stopped container",
			res: Result{ExitCode: 255, Stderr: []byte("CT 100 not running\n")}, wantErr: ErrContainerNotRunning},
		{name: "a container on another node",
			res:     Result{ExitCode: 255, Stderr: []byte("Configuration file 'nodes/pve2/lxc/100.conf' does not exist\n")},
			wantErr: ErrContainerNotFound},
		{name: "a script exiting 255 with other output is just a script result",
			res: Result{ExitCode: 255, Stderr: []byte("boom\n")}},
		{name: "pct's wording for another VMID is not ours",
			res: Result{ExitCode: 255, Stderr: []byte("CT 1000 not running\n")}},
		{name: "the wording with another exit status is the script's",
			res: Result{ExitCode: 1, Stderr: []byte("CT 100 not running\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pctFailure(tt.res, 100)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("pctFailure = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "pct: ") {
				t.Errorf("pctFailure = %v, want pct's message included", err)
			}
		})
	}
}
