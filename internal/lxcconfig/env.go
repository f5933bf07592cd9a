package lxcconfig

import "strings"

// EnvVar is a declared environment variable with its value resolved (the
// caller reads ConfigMap and Secret references).
type EnvVar struct {
	Name, Value string
}

// envSeparator separates the NAME=value entries of PVE's env option
// (pve-container LXC/Config.pm: the entries of the pve-lxc-env format are
// joined with NUL, which no value may contain).
const envSeparator = "\x00"

// MergeEnv is the env option once declared is set over observed: entries
// of observed keep their order, a declared name replaces the value of the
// entry with that name, and declared names not observed follow in the
// declared order. Undeclared entries (the image's PATH, say) are left as
// found.
func MergeEnv(observed string, declared []EnvVar) string {
	want := make(map[string]string, len(declared))
	for _, e := range declared {
		want[e.Name] = e.Value
	}
	var out []string
	seen := map[string]bool{}
	for _, entry := range SplitEnv(observed) {
		name, _, _ := strings.Cut(entry, "=")
		if v, ok := want[name]; ok {
			if seen[name] {
				continue
			}
			entry = name + "=" + v
		}
		seen[name] = true
		out = append(out, entry)
	}
	for _, e := range declared {
		if !seen[e.Name] {
			seen[e.Name] = true
			out = append(out, e.Name+"="+e.Value)
		}
	}
	return JoinEnv(out)
}

// SplitEnv splits PVE's env option into its NAME=value entries.
func SplitEnv(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, envSeparator)
}

// JoinEnv is SplitEnv's inverse: NAME=value entries as PVE's env option.
func JoinEnv(entries []string) string {
	return strings.Join(entries, envSeparator)
}
