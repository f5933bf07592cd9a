package main

import (
	"bytes"
	"os"
	"regexp"
	"testing"
)

// TestAPIReferenceIsFresh keeps docs/api-reference.md in step with the CRDs;
// `make test` runs it.
func TestAPIReferenceIsFresh(t *testing.T) {
	want, err := Generate("../../config/crd/bases")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/api-reference.md")
	if err != nil {
		t.Fatalf("read docs/api-reference.md: %v; run `go run ./hack/apidocs`", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/api-reference.md is stale: run `go run ./hack/apidocs`")
	}
}

func TestGenerateCoversEveryKind(t *testing.T) {
	doc, err := Generate("../../config/crd/bases")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## ProxmoxHost", "## Application", "## Backup", "## Restore", "## BackupSchedule", "| `spec` |", "| `status.conditions[].reason` |"} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("reference lacks %q", want)
		}
	}
}

// TestTroubleshootingListsEveryReason keeps docs/troubleshooting.md complete.
func TestTroubleshootingListsEveryReason(t *testing.T) {
	src, err := os.ReadFile("../../api/v1alpha1/conditions.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	reasons := regexp.MustCompile(`(?m)^\s*Reason\w+\s*=\s*"(\w+)"`).FindAllSubmatch(src, -1)
	if len(reasons) == 0 {
		t.Fatal("found no reason constants")
	}
	for _, m := range reasons {
		if !bytes.Contains(doc, []byte("| `"+string(m[1])+"` |")) {
			t.Errorf("docs/troubleshooting.md has no row for reason %s", m[1])
		}
	}
}
