package sshd

import (
	"slices"
	"testing"
)

func TestSplitShellWords(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    []string
		wantErr bool
	}{
		{name: "blanks separate words", line: "pct  exec\t100 --", want: []string{"pct", "exec", "100", "--"}},
		{name: "single quotes keep everything literal", line: `sh -c 'echo "$HOME" | tr a b; x=\1'`, want: []string{"sh", "-c", `echo "$HOME" | tr a b; x=\1`}},
		{name: "the operator's '\\'' idiom embeds a single quote", line: `'it'\''s'`, want: []string{"it's"}},
		{name: "adjacent quoted parts form one word", line: `a'b'"c"d`, want: []string{"abcd"}},
		{name: "an empty quoted string is a word", line: `x '' y`, want: []string{"x", "", "y"}},
		{name: "double quotes honour backslash escapes", line: `"a\"b\\c\d"`, want: []string{`a"b\c\d`}},
		{name: "a backslash escapes a blank outside quotes", line: `a\ b`, want: []string{"a b"}},
		{name: "newlines inside single quotes are literal", line: "sh -c 'a\nb'", want: []string{"sh", "-c", "a\nb"}},
		{name: "an empty line has no words", line: "  ", want: nil},
		{name: "an unterminated quote is a syntax error", line: `echo 'oops`, wantErr: true},
		{name: "unquoted operators are refused", line: `true && false`, wantErr: true},
		{name: "unquoted expansions are refused", line: `echo $HOME`, wantErr: true},
		{name: "expansions inside double quotes are refused", line: `echo "$HOME"`, wantErr: true},
		{name: "unquoted newlines are refused", line: "true\nfalse", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitShellWords(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("splitShellWords(%q) error = %v, want error: %v", tt.line, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("splitShellWords(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseExecRequest(t *testing.T) {
	tests := []struct {
		name       string
		line       string
		want       pctExec
		wantStatus uint32 // checked only when the request is rejected
		rejected   bool
	}{
		{name: "the operator's form", line: `pct exec 100 -- /bin/sh -c 'echo hi'`, want: pctExec{vmid: 100, argv: []string{"/bin/sh", "-c", "echo hi"}}},
		{name: "the full path to pct works too", line: `/usr/sbin/pct exec 100 -- true`, want: pctExec{vmid: 100, argv: []string{"true"}}},
		{name: "-- is optional when the command takes no dash first", line: `pct exec 123456789 ls -l`, want: pctExec{vmid: 123456789, argv: []string{"ls", "-l"}}},
		{name: "no command is left for pct to reject after its container checks", line: `pct exec 100 --`, want: pctExec{vmid: 100, argv: []string{}}},
		{name: "VMIDs below 100 are invalid", line: `pct exec 99 -- true`, rejected: true, wantStatus: 255},
		{name: "VMIDs with leading zeros are invalid", line: `pct exec 0100 -- true`, rejected: true, wantStatus: 255},
		{name: "an option before -- is unknown", line: `pct exec 100 -x true`, rejected: true, wantStatus: 255},
		{name: "an empty request does nothing and succeeds", line: ``, rejected: true, wantStatus: 0},
		{name: "other programs are not found", line: `qm list`, rejected: true, wantStatus: 127},
		{name: "bad shell syntax fails like bash", line: `pct exec 100 -- 'x`, rejected: true, wantStatus: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := parseExecRequest(tt.line)
			if (rej != nil) != tt.rejected {
				t.Fatalf("parseExecRequest(%q) rejection = %+v, want rejected: %v", tt.line, rej, tt.rejected)
			}
			if rej != nil {
				if rej.status != tt.wantStatus {
					t.Errorf("status = %d, want %d (stderr %q)", rej.status, tt.wantStatus, rej.stderr)
				}
				return
			}
			if got.vmid != tt.want.vmid || !slices.Equal(got.argv, tt.want.argv) {
				t.Errorf("parseExecRequest(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}
