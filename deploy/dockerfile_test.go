package deploy_test

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const dockerfile = "docker/Dockerfile"

// stage is one FROM ... section of the Dockerfile, with its instructions joined across
// backslash-continued lines.
type stage struct {
	from, name string
	env        []string // KEY=VALUE from ENV instructions
	runs       []string // RUN commands
	copies     []string // COPY arguments
	user       string
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for _, l := range logical {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			f := strings.Fields(rest)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		case "ENV":
			if len(stages) > 0 {
				words, err := shellWords(rest)
				if err != nil {
					t.Fatalf("ENV %s: %v", rest, err)
				}
				stages[len(stages)-1].env = append(stages[len(stages)-1].env, words...)
			}
		case "RUN":
			stages[len(stages)-1].runs = append(stages[len(stages)-1].runs, rest)
		case "COPY":
			stages[len(stages)-1].copies = append(stages[len(stages)-1].copies, rest)
		case "USER":
			stages[len(stages)-1].user = rest
		}
	}
	return stages
}

// shellWords splits a command line as sh would for the simple forms a Dockerfile uses here:
// whitespace-separated words, single and double quotes, no expansion.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case r == '$' || r == '`' || r == '&' || r == '|' || r == ';':
			return nil, errors.New("shell syntax beyond plain words: keep one plain go build per RUN")
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

func TestDockerfileStages(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if !slices.Contains(build.env, "CGO_ENABLED=0") {
		t.Errorf("build stage env %v: want CGO_ENABLED=0", build.env)
	}
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final stage FROM %s: want distroless/static or scratch", final.from)
	}
	if final.user == "" || final.user == "root" || strings.HasPrefix(final.user, "0") {
		t.Errorf("final stage USER %q: want a non-root user", final.user)
	}
	if !slices.ContainsFunc(final.copies, func(c string) bool { return strings.Contains(c, "--from="+build.name) }) {
		t.Errorf("final stage copies nothing from the build stage %q: %v", build.name, final.copies)
	}
}

// goBuilds returns the go build command lines of the build stage, as argument lists after "go".
func goBuilds(t *testing.T, s stage) [][]string {
	t.Helper()
	var out [][]string
	for _, run := range s.runs {
		if !strings.HasPrefix(run, "go build") {
			continue
		}
		words, err := shellWords(run)
		if err != nil {
			t.Fatalf("RUN %s: %v", run, err)
		}
		out = append(out, words[1:])
	}
	if len(out) == 0 {
		t.Fatal("the build stage has no RUN go build line")
	}
	return out
}

// TestDockerBuildCommand runs the Dockerfile's go build lines as they are, with the stage's ENV,
// writing into a temporary directory instead of /out/, then checks that each binary is static
// (no ELF interpreter, no shared libraries) and that it answers --help with exit status 0.
func TestDockerBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the full static build")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	build := parseDockerfile(t)[0]
	out := t.TempDir()
	var binaries []string
	for _, args := range goBuilds(t, build) {
		i := slices.Index(args, "-o")
		if i < 0 || i+1 >= len(args) || !strings.HasSuffix(args[i+1], "/") {
			t.Fatalf("go %s: want -o <directory>/ so every package lands in one folder", strings.Join(args, " "))
		}
		args = slices.Clone(args)
		args[i+1] = out + string(filepath.Separator)
		for _, a := range args[i+2:] {
			if strings.HasPrefix(a, "./cmd/") {
				binaries = append(binaries, filepath.Base(a))
			}
		}
		cmd := exec.Command(goBin, args...)
		cmd.Dir = ".." // the Dockerfile builds from the repository root (WORKDIR /src, COPY . .)
		cmd.Env = append(os.Environ(), build.env...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
		}
	}
	for _, want := range []string{"backend-service", "client-service", "chaoslab"} {
		if !slices.Contains(binaries, want) {
			t.Errorf("the Dockerfile does not build ./cmd/%s (the manifests run it)", want)
		}
	}
	for _, name := range binaries {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(out, name)
			checkStatic(t, path)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if msg, err := exec.CommandContext(ctx, path, "--help").CombinedOutput(); err != nil {
				t.Errorf("%s --help: %v\n%s", name, err, msg)
			}
		})
	}
}

func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s is not an ELF binary: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter (PT_INTERP): dynamically linked", path)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", path, libs)
	}
}

func TestShellWords(t *testing.T) {
	cases := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{`go build -ldflags="-s -w" -o /out/ ./cmd/a`, []string{"go", "build", "-ldflags=-s -w", "-o", "/out/", "./cmd/a"}, false},
		{`CGO_ENABLED=0 GOOS='linux'`, []string{"CGO_ENABLED=0", "GOOS=linux"}, false},
		{`go build -o $OUT ./cmd/a`, nil, true},
		{`go build && go vet`, nil, true},
		{`go build "-o`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := shellWords(tc.in)
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Errorf("shellWords(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
