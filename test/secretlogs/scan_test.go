package secretlogs

import (
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// secret is one credential the manager reads, by what it is.
type secret struct {
	what, value string
}

// forms are the strings that give value away in a log line: the value, its
// base64 (how a JSON Secret carries it) and, for a multi-line value such as
// a PEM key, each line (JSON escapes the newlines between them).
func forms(value string) []string {
	out := []string{value, base64.StdEncoding.EncodeToString([]byte(value))}
	if strings.Contains(value, "\n") {
		for _, line := range strings.Split(value, "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	return out
}

// hexDumpLine is one line of encoding/hex's Dump, which client-go uses for
// protobuf bodies (controller-runtime asks for protobuf for built-in kinds
// such as Secret): an offset, two spaces, then up to 16 bytes in hex. No
// word boundary before the offset: in JSON it follows an escaped newline.
var hexDumpLine = regexp.MustCompile(`[0-9a-f]{8}  ((?:[0-9a-f]{2} {1,2}){0,15}[0-9a-f]{2})\b`)

// hexDumped is every byte the log shows as a hex dump, one dump after the
// other: a secret split across lines there is whole again.
func hexDumped(log string) string {
	var b strings.Builder
	for _, m := range hexDumpLine.FindAllStringSubmatch(log, -1) {
		raw, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
		if err == nil {
			b.Write(raw)
		}
	}
	return b.String()
}

// leaks names each secret the log gives away, and how.
func leaks(log string, secrets []secret) []string {
	dumped := hexDumped(log)
	var out []string
	for _, s := range secrets {
		for i, f := range forms(s.value) {
			if strings.Contains(log, f) {
				out = append(out, s.what+" (form "+strconv.Itoa(i)+") in the log text")
			}
			if strings.Contains(dumped, f) {
				out = append(out, s.what+" (form "+strconv.Itoa(i)+") in a hex dump")
			}
		}
	}
	return out
}

// TestLeaksFindsASecretInEveryEncoding: the scan must see what client-go
// would write, or the end-to-end test passes for the wrong reason.
func TestLeaksFindsASecretInEveryEncoding(t *testing.T) {
	token := "5f0c1d9e-token-value-0123456789ab"
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"
	cases := []struct {
		name string
		log  string
		want bool
	}{
		{"a value in clear is found", `{"msg":"x","v":"` + token + `"}`, true},
		{"a value base64-encoded as in a JSON Secret is found", `{"body":"{\"data\":{\"tokenSecret\":\"` + base64.StdEncoding.EncodeToString([]byte(token)) + `\"}}"}`, true},
		{"a value in a protobuf hex dump, split across lines, is found", `{"body":"` + strings.ReplaceAll(hex.Dump([]byte("\x0a\x03k8s"+token)), "\n", `\n`) + `"}`, true},
		{"a PEM key with its newlines JSON-escaped is found", `{"v":"` + strings.ReplaceAll(key, "\n", `\n`) + `"}`, true},
		{"a log without the values is clean", `{"msg":"Request","url":"https://127.0.0.1/api/v1/namespaces/a/configmaps/b"}`, false},
	}
	secrets := []secret{{"token", token}, {"key", key}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := len(leaks(c.log, secrets)) > 0; got != c.want {
				t.Errorf("leaks found = %v, want %v in %s", got, c.want, c.log)
			}
		})
	}
}
