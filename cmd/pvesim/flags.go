package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// listFlag collects a repeatable flag; the first Set replaces the default.
type listFlag struct {
	values  []string
	changed bool
}

func (l *listFlag) String() string { return strings.Join(l.values, " ") }

func (l *listFlag) Set(v string) error {
	if !l.changed {
		l.values = nil
		l.changed = true
	}
	l.values = append(l.values, v)
	return nil
}

// parseNodes reads "pve1,pve2,pve3:offline".
func parseNodes(s string) ([]pvesim.NodeSpec, error) {
	var out []pvesim.NodeSpec
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, state, _ := strings.Cut(part, ":")
		switch state {
		case "", "online":
			out = append(out, pvesim.NodeSpec{Name: name})
		case "offline":
			out = append(out, pvesim.NodeSpec{Name: name, Offline: true})
		default:
			return nil, fmt.Errorf("node %q: state must be online or offline", part)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no nodes")
	}
	return out, nil
}

// parseStorage reads "id=local,type=dir,content=vztmpl;backup;iso,size=100G[,shared=1][,nodes=pve1;pve2][,path=/var/lib/vz][,max-protected=N]".
func parseStorage(s string) (pvesim.StorageSpec, error) {
	var sp pvesim.StorageSpec
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return sp, fmt.Errorf("storage %q: %q is not key=value", s, kv)
		}
		switch k {
		case "id":
			sp.ID = v
		case "type":
			if v != "dir" && v != "lvmthin" {
				return sp, fmt.Errorf("storage %q: type must be dir or lvmthin", s)
			}
			sp.Type = v
		case "content":
			sp.Content = strings.Split(v, ";")
		case "size":
			n, err := parseBytes(v)
			if err != nil {
				return sp, fmt.Errorf("storage %q: %w", s, err)
			}
			sp.Total = n
		case "shared":
			sp.Shared = v == "1" || v == "true"
		case "nodes":
			sp.Nodes = strings.Split(v, ";")
		case "path":
			sp.Path = v
		case "max-protected":
			n, err := strconv.Atoi(v)
			if err != nil {
				return sp, fmt.Errorf("storage %q: max-protected: %w", s, err)
			}
			sp.MaxProtectedBackups = n
		default:
			return sp, fmt.Errorf("storage %q: unknown key %q", s, k)
		}
	}
	if sp.ID == "" {
		return sp, fmt.Errorf("storage %q: id is required", s)
	}
	return sp, nil
}

func parseBytes(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "T"):
		mult, s = 1<<40, strings.TrimSuffix(s, "T")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want e.g. 100G", s)
	}
	return n * mult, nil
}

// parseToken reads "user@realm!name=secret[:Priv1+Priv2]".
func parseToken(s string) (pvesim.TokenSpec, error) {
	i := strings.LastIndex(s, "=")
	if i < 0 || !strings.Contains(s[:i], "!") {
		return pvesim.TokenSpec{}, fmt.Errorf("token %q: want user@realm!name=secret", s)
	}
	secret, privs, _ := strings.Cut(s[i+1:], ":")
	t := pvesim.TokenSpec{ID: s[:i], Secret: secret}
	if privs != "" {
		t.Privileges = strings.Split(privs, "+")
	}
	return t, nil
}

// parseUser reads "user@realm=password[:Priv1+Priv2]".
func parseUser(s string) (pvesim.UserSpec, error) {
	id, rest, ok := strings.Cut(s, "=")
	if !ok || !strings.Contains(id, "@") {
		return pvesim.UserSpec{}, fmt.Errorf("user %q: want user@realm=password", s)
	}
	pw, privs, _ := strings.Cut(rest, ":")
	u := pvesim.UserSpec{ID: id, Password: pw}
	if privs != "" {
		u.Privileges = strings.Split(privs, "+")
	}
	return u, nil
}

// parseDuration reads "vzcreate=10s-60s" or "vzstart=2s".
func parseDuration(s string) (string, pvesim.DurationRange, error) {
	typ, spec, ok := strings.Cut(s, "=")
	if !ok {
		return "", pvesim.DurationRange{}, fmt.Errorf("duration %q: want type=min[-max]", s)
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	min, err := time.ParseDuration(lo)
	if err != nil {
		return "", pvesim.DurationRange{}, fmt.Errorf("duration %q: %w", s, err)
	}
	max := min
	if isRange {
		if max, err = time.ParseDuration(hi); err != nil {
			return "", pvesim.DurationRange{}, fmt.Errorf("duration %q: %w", s, err)
		}
	}
	return typ, pvesim.DurationRange{Min: min, Max: max}, nil
}
