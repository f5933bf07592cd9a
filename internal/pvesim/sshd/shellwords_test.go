package sshd

import (
	"reflect"
	"testing"
)

func TestParseCommandLine(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		want      commandLine
		wantError string
	}{
		{name: "words without redirections",
			line: `cat /etc/pve/lxc/100.conf`,
			want: commandLine{words: []string{"cat", "/etc/pve/lxc/100.conf"}}},
		{name: "'>' with a blank before the target truncates",
			line: `cat > /etc/pve/lxc/100.conf`,
			want: commandLine{words: []string{"cat"}, redirects: []redirect{{fd: 1, target: "/etc/pve/lxc/100.conf"}}}},
		{name: "'>>' glued to its target appends",
			line: `echo 'dev0: /dev/net/tun' >>/etc/pve/lxc/100.conf`,
			want: commandLine{words: []string{"echo", "dev0: /dev/net/tun"}, redirects: []redirect{{fd: 1, append: true, target: "/etc/pve/lxc/100.conf"}}}},
		{name: "digits glued to '>' name the file descriptor",
			line: `tee f 2>/dev/null >/dev/null`,
			want: commandLine{words: []string{"tee", "f"}, redirects: []redirect{{fd: 2, target: "/dev/null"}, {fd: 1, target: "/dev/null"}}}},
		{name: "quoted digits before '>' stay a word",
			line: `echo '2'>x`,
			want: commandLine{words: []string{"echo", "2"}, redirects: []redirect{{fd: 1, target: "x"}}}},
		{name: "a quoted '>' is literal",
			line: `echo 'a > b' ">"`,
			want: commandLine{words: []string{"echo", "a > b", ">"}}},
		{name: "a bare redirection has no words",
			line: `> /etc/pve/lxc/100.conf`,
			want: commandLine{redirects: []redirect{{fd: 1, target: "/etc/pve/lxc/100.conf"}}}},
		{name: "a redirection without a target is bash's syntax error",
			line:      `cat >`,
			wantError: "bash: -c: line 1: syntax error near unexpected token `newline'\nbash: -c: line 1: `cat >'"},
		{name: "two operators in a row are bash's syntax error",
			line:      `cat > > f`,
			wantError: "bash: -c: line 1: syntax error near unexpected token `>'\nbash: -c: line 1: `cat > > f'"},
		{name: "'>&' is refused rather than misread",
			line:      `cat f 2>&1`,
			wantError: `pvesim: unquoted '&' is not simulated; quote the argument`},
		{name: "input redirection is refused",
			line:      `tee f < /dev/null`,
			wantError: `pvesim: unquoted '<' is not simulated; quote the argument`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCommandLine(tt.line)
			if tt.wantError != "" {
				if err == nil || err.Error() != tt.wantError {
					t.Fatalf("parseCommandLine(%q) error = %v, want %q", tt.line, err, tt.wantError)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCommandLine(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
		})
	}
}
