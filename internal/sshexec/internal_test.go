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
	if got, want := pctExecCommand(100, "echo it's"), `pct exec 100 -- /bin/sh -c 'echo it'\''s'`; got != want {
		t.Errorf("pctExecCommand = %q, want %q", got, want)
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
