package pvesim

import "testing"

// The expectations are String::ShellQuote 1.04's output for each argument.
func TestCmd2StringQuotesLikeStringShellQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plain words stay bare", []string{"/docker-entrypoint.sh", "nginx", "-g"}, "/docker-entrypoint.sh nginx -g"},
		{"a blank or a semicolon needs quotes", []string{"daemon off;"}, "'daemon off;'"},
		{"an '=' always needs quotes", []string{"env", "A=1"}, "env 'A=1'"},
		{"the safe punctuation stays bare", []string{"a,b+c%d!e^f@g:h"}, "a,b+c%d!e^f@g:h"},
		{"an empty argument is two quotes", []string{"echo", ""}, "echo ''"},
		{"a single quote is closed, escaped and reopened", []string{"it's"}, `'it'\''s'`},
		{"a run of quotes goes in double quotes", []string{"a''b"}, `'a'"''"'b'`},
		{"empty quote pairs at the ends are dropped", []string{"'x'"}, `\''x'\'`},
		{"a lone quote is escaped", []string{"'"}, `\'`},
		{"a tab needs quotes", []string{"a\tb"}, "'a\tb'"},
		{"non-ASCII letters are word characters", []string{"café"}, "café"},
		{"other non-ASCII needs quotes", []string{"a→b"}, "'a→b'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cmd2string(tc.args); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
