package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// No Docker engine runs here, so the image is checked piece by piece: the
// Dockerfile's own `go build` line must produce a static binary (distroless
// static has no libc), every file that build needs must reach the build
// context, and the final stage must run as non-root.

func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the manager from scratch with -trimpath (about a minute on two cores)")
	}
	line := dockerBuildLine(t)
	out := filepath.Join(t.TempDir(), "manager")
	if !strings.Contains(line, " -o manager ") {
		t.Fatalf("the Dockerfile's build line %q no longer writes ./manager", line)
	}
	line = strings.Replace(line, " -o manager ", " -o "+out+" ", 1)
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = repoPath()
	// What BuildKit passes for a build on this machine's architecture.
	cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatalf("the manager is not an ELF binary: %v", err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the manager has a dynamic loader (PT_INTERP): it would not start on distroless/static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the manager links shared libraries %v (%v)", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("the manager keeps its symbol table: -ldflags=-s missing")
	}
	// The image carries the kubectl plugin's commands as `manager pve`.
	help, err := exec.Command(out, "pve", "help").CombinedOutput()
	if err != nil || !strings.Contains(string(help), "kubectl pve adopt") {
		t.Errorf("`manager pve help`: %v\n%s", err, help)
	}
}

func TestDockerfileShipsOnDistrolessAsNonRoot(t *testing.T) {
	df := readFile(t, "Dockerfile")
	stages := regexp.MustCompile(`(?m)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(df, -1)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got stages %v", stages)
	}
	final := df[strings.LastIndex(df, "\nFROM "):]
	for _, want := range []string{
		"FROM gcr.io/distroless/static:nonroot",
		"USER 65532:65532",
		`ENTRYPOINT ["/manager"]`,
	} {
		if !strings.Contains(final, want) {
			t.Errorf("the final stage lacks %q", want)
		}
	}
	if strings.Contains(final, "RUN ") {
		t.Errorf("the final stage runs commands; distroless has no shell")
	}
	if !strings.Contains(dockerBuildLine(t), "CGO_ENABLED=0") {
		t.Errorf("the build line does not set CGO_ENABLED=0")
	}
}

// Every Go file and embedded file of ./cmd/manager's packages must be
// COPYed into the build stage and not dropped by .dockerignore, or the
// image build breaks the day someone adds a package outside api/, cmd/,
// controllers/ and internal/.
func TestDockerBuildContextHoldsEverySourceFile(t *testing.T) {
	copied := dockerCopies(t)
	ignore := dockerIgnore(t)
	for _, pkg := range moduleDeps(t, "./cmd/manager") {
		rel, err := filepath.Rel(repoPath(), pkg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		files := append(append([]string{}, pkg.GoFiles...), pkg.EmbedFiles...)
		for _, f := range files {
			p := filepath.ToSlash(filepath.Join(rel, f))
			if !underAny(p, copied) {
				t.Errorf("%s is needed by the build but no COPY brings it in (COPYed: %v)", p, copied)
			}
			if ignore.excludes(p) {
				t.Errorf("%s is needed by the build but .dockerignore excludes it", p)
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if ignore.excludes(f) {
			t.Errorf(".dockerignore excludes %s", f)
		}
	}
	if !ignore.excludes("bin/dev/kubeconfig") {
		t.Errorf(".dockerignore lets bin/ (local credentials) into the build context")
	}
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dockerInstructions joins continuation lines and drops comments.
func dockerInstructions(t *testing.T) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(readFile(t, "Dockerfile")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// dockerBuildLine is the shell command of the RUN that builds the manager,
// without RUN and its --mount flags.
func dockerBuildLine(t *testing.T) string {
	t.Helper()
	for _, ins := range dockerInstructions(t) {
		if !strings.HasPrefix(ins, "RUN ") || !strings.Contains(ins, "go build") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(ins, "RUN "))
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:]
		}
		return strings.Join(fields, " ")
	}
	t.Fatal("the Dockerfile has no RUN ... go build")
	return ""
}

// dockerCopies lists the directories and files the build stage COPYs from
// the context.
func dockerCopies(t *testing.T) []string {
	var out []string
	for _, ins := range dockerInstructions(t) {
		fields := strings.Fields(ins)
		if fields[0] != "COPY" || strings.HasPrefix(fields[1], "--from") {
			continue
		}
		for _, src := range fields[1 : len(fields)-1] {
			out = append(out, strings.TrimSuffix(src, "/"))
		}
	}
	return out
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

type goPackage struct {
	Dir        string
	GoFiles    []string
	EmbedFiles []string
	Module     *struct{ Path string }
}

// moduleDeps lists the packages of this module that target depends on, as
// built for linux without cgo.
func moduleDeps(t *testing.T, target string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", target)
	cmd.Dir = repoPath()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module != nil && p.Module.Path == "github.com/pve-operator/pve-operator" {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list found no packages of this module behind %s", target)
	}
	return pkgs
}

// ignoreRules is the subset of .dockerignore semantics the file uses:
// patterns with * and **, ! to re-include, a directory pattern covering
// everything below it, and the last matching line winning.
type ignoreRules []struct {
	re      *regexp.Regexp
	include bool
}

func dockerIgnore(t *testing.T) ignoreRules {
	var rules ignoreRules
	for _, line := range strings.Split(readFile(t, ".dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		include := strings.HasPrefix(line, "!")
		pat := strings.Trim(strings.TrimPrefix(line, "!"), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(pat); i++ {
			switch {
			case strings.HasPrefix(pat[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(pat[i:], "**"):
				re.WriteString(".*")
				i++
			case pat[i] == '*':
				re.WriteString("[^/]*")
			case pat[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(pat[i : i+1]))
			}
		}
		re.WriteString("(/.*)?$")
		rules = append(rules, struct {
			re      *regexp.Regexp
			include bool
		}{regexp.MustCompile(re.String()), include})
	}
	return rules
}

func (r ignoreRules) excludes(p string) bool {
	excluded := false
	for _, rule := range r {
		if rule.re.MatchString(p) {
			excluded = !rule.include
		}
	}
	return excluded
}
