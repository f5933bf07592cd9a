package sshexec

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyDB is parsed known_hosts content, checked in memory.
//
// x/crypto's knownhosts.New only reads files, and the operator's container
// usually has a read-only root filesystem, so lines are parsed with
// ssh.ParseKnownHosts and matched here with OpenSSH's rules: comma-separated
// patterns, * and ? wildcards, !negation, |1|salt|hash hashed names, and
// "[host]:port" for ports other than 22 (normalised with knownhosts.Normalize).
type hostKeyDB struct {
	entries []knownHostEntry
	revoked [][]byte // marshalled keys from @revoked lines, refused for any host
}

type knownHostEntry struct {
	patterns []string
	key      ssh.PublicKey
}

// parseKnownHosts keeps every valid host line. Like OpenSSH and x/crypto it
// skips lines it cannot parse, unless none are valid. @cert-authority lines are
// skipped: host certificates are not supported, and skipping only ever trusts
// fewer keys.
func parseKnownHosts(data []byte) (*hostKeyDB, error) {
	db := &hostKeyDB{}
	var firstErr error
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		marker, hosts, key, _, _, err := ssh.ParseKnownHosts(line)
		switch {
		case errors.Is(err, io.EOF): // blank or comment
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case marker == "revoked":
			db.revoked = append(db.revoked, key.Marshal())
		case marker == "":
			db.entries = append(db.entries, knownHostEntry{patterns: hosts, key: key})
		}
	}
	if len(db.entries) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("sshexec: %w: %w", ErrNoKnownHosts, firstErr)
		}
		return nil, fmt.Errorf("sshexec: %w", ErrNoKnownHosts)
	}
	return db, nil
}

// keysFor returns the keys known_hosts lists for address (host:port).
func (db *hostKeyDB) keysFor(address string) []ssh.PublicKey {
	host := strings.ToLower(knownhosts.Normalize(address))
	var keys []ssh.PublicKey
	for _, e := range db.entries {
		if matchHostPatterns(e.patterns, host) {
			keys = append(keys, e.key)
		}
	}
	return keys
}

// check is an ssh.HostKeyCallback. address is what was dialled (host:port).
func (db *hostKeyDB) check(address string, _ net.Addr, key ssh.PublicKey) error {
	presented := key.Marshal()
	if slices.ContainsFunc(db.revoked, func(r []byte) bool { return bytes.Equal(r, presented) }) {
		return fmt.Errorf("%w: %s presented %s %s", ErrHostKeyRevoked, address, key.Type(), ssh.FingerprintSHA256(key))
	}
	want := db.keysFor(address)
	if len(want) == 0 {
		return fmt.Errorf("%w: known_hosts has no entry for %s (it presented %s %s)",
			ErrHostKeyUnknown, knownhosts.Normalize(address), key.Type(), ssh.FingerprintSHA256(key))
	}
	for _, k := range want {
		if bytes.Equal(k.Marshal(), presented) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s presented %s %s, which known_hosts does not list for it",
		ErrHostKeyMismatch, knownhosts.Normalize(address), key.Type(), ssh.FingerprintSHA256(key))
}

// hostKeyAlgorithms lists the algorithms of the keys known for address, so
// the server is asked for a key we can verify. Without it a node with several
// host keys may offer one type while known_hosts holds another, which would
// look like a key mismatch.
func (db *hostKeyDB) hostKeyAlgorithms(address string) []string {
	var algos []string
	for _, k := range db.keysFor(address) {
		typ := k.Type()
		if typ == ssh.KeyAlgoRSA {
			// The key type names SHA-1 signatures, which current sshd refuses;
			// the same key signs with SHA-2 under these names.
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
			continue
		}
		algos = append(algos, typ)
	}
	slices.Sort(algos)
	return slices.Compact(algos)
}

// matchHostPatterns applies one line's comma-separated patterns to a
// normalised host ("host" or "[host]:port"): some pattern must match, and no
// negated one may.
func matchHostPatterns(patterns []string, host string) bool {
	matched := false
	for _, p := range patterns {
		negated := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var ok bool
		if strings.HasPrefix(p, "|1|") {
			ok = matchHashedHost(p, host)
		} else {
			ok = matchWildcard(strings.ToLower(p), host)
		}
		if ok && negated {
			return false
		}
		matched = matched || ok
	}
	return matched
}

// matchHashedHost checks an OpenSSH HashKnownHosts entry: |1|base64(salt)|base64(HMAC-SHA1(salt, host)).
func matchHashedHost(entry, host string) bool {
	parts := strings.Split(entry, "|")
	if len(parts) != 4 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	want, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return hmac.Equal(mac.Sum(nil), want)
}

// matchWildcard matches OpenSSH's * (any run) and ? (any one byte) wildcards
// against the whole of s.
func matchWildcard(pattern, s string) bool {
	p, i := 0, 0
	star, resume := -1, 0 // last * seen, and where in s it currently ends
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p, i = p+1, i+1
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, i
			p++
		case star >= 0: // let the last * swallow one more byte and retry
			resume++
			p, i = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
