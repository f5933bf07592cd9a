package lxcconfig

import (
	"strings"
	"testing"
)

func TestMergeEnv(t *testing.T) {
	env := func(entries ...string) string { return strings.Join(entries, "\x00") }
	tests := []struct {
		name     string
		observed string
		declared []EnvVar
		want     string
	}{
		{"an empty env gets the declared variables in order", "", []EnvVar{{"B", "2"}, {"A", "1"}}, env("B=2", "A=1")},
		{"a declared name replaces the image's value in place", env("PATH=/bin", "MODE=dev", "X=1"), []EnvVar{{"MODE", "prod"}}, env("PATH=/bin", "MODE=prod", "X=1")},
		{"undeclared variables of the image are kept", env("PATH=/bin"), []EnvVar{{"NEW", "v"}}, env("PATH=/bin", "NEW=v")},
		{"a value may be empty", env("A=1"), []EnvVar{{"A", ""}}, env("A=")},
		{"a name the config holds twice is written once", env("A=1", "A=2"), []EnvVar{{"A", "3"}}, env("A=3")},
		{"nothing declared changes nothing", env("A=1", "B=2"), nil, env("A=1", "B=2")},
		{"values may hold = signs", env("URL=a=b"), []EnvVar{{"URL", "x=y"}}, env("URL=x=y")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MergeEnv(tt.observed, tt.declared); got != tt.want {
				t.Errorf("MergeEnv = %q, want %q", got, tt.want)
			}
		})
	}
}
