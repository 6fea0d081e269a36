package releasecheck

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	rootPath   = "github.com/consumergroup/consumergroup"
	pluginPath = rootPath + "/plugin/cgprom"
	pluginDir  = "plugin/cgprom"
)

// releaseVersion matches a release's version: vMAJOR.MINOR.PATCH, no
// pre-release, no pseudo-version.
var releaseVersion = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// TestPluginGoMod: plugin/cgprom/go.mod requires a released version of the
// root module and replaces nothing (Go ignores a dependency's replace
// directives, so a replace there only hides what users would get). The
// replace that development needs lives in plugin/cgprom/go.work.
func TestPluginGoMod(t *testing.T) {
	version := pluginRequiredRootVersion(t)
	if version == "v0.0.0" {
		t.Fatalf("%s/go.mod requires %s at v0.0.0, which no tag names", pluginDir, rootPath)
	}
	work, err := os.ReadFile(filepath.Join(repoRoot(t), pluginDir, "go.work"))
	if err != nil {
		t.Fatalf("the plugin's development workspace: %v", err)
	}
	if !strings.Contains(string(work), "replace "+rootPath+" => ../..") {
		t.Errorf("%s/go.work does not replace %s with the checkout (../..)", pluginDir, rootPath)
	}
	// The changelog names the version the plugin requires.
	changelog, err := os.ReadFile(filepath.Join(repoRoot(t), "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(changelog), "## ["+strings.TrimPrefix(version, "v")+"]") {
		t.Errorf("CHANGELOG.md has no section ## [%s], the version %s/go.mod requires", strings.TrimPrefix(version, "v"), pluginDir)
	}
}

// TestPluginBuildsOutsideTheRepository releases the root module and the
// plugin at the version the plugin's go.mod requires into a module proxy in
// a temporary directory (GOPROXY=file://...), built from this checkout, and
// then does what a user does in a module of their own, outside the
// repository, with no replace and no workspace: `go get` the plugin at that
// version, and `go build` a program that uses it with the library. Every
// other module comes from the local module cache's download directory, so it
// runs offline (a module missing there fails the test, naming it).
func TestPluginBuildsOutsideTheRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: releasing into a local proxy and building outside the repository takes seconds")
	}
	version := pluginRequiredRootVersion(t)
	root := repoRoot(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	realCache := goEnv(t, goBin, "GOMODCACHE")

	proxy := t.TempDir()
	files := moduleFiles(t, root)
	var rootFiles, pluginFiles []string
	for _, f := range files {
		switch {
		case strings.HasPrefix(f, pluginDir+"/"):
			if f != pluginDir+"/go.work" {
				pluginFiles = append(pluginFiles, f)
			}
		case !inNestedModule(root, f):
			rootFiles = append(rootFiles, f)
		}
	}
	publish(t, proxy, rootPath, version, root, "", rootFiles)
	publish(t, proxy, pluginPath, version, root, pluginDir, pluginFiles)

	user := t.TempDir()
	write(t, filepath.Join(user, "go.mod"), "module example.com/cgpromuser\n\ngo 1.26.0\n")
	write(t, filepath.Join(user, "main.go"), `package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/plugin/cgprom"
)

func main() {
	metrics := cgprom.NewMetrics("consumergroup")
	prometheus.NewRegistry().MustRegister(metrics)
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.Metrics = metrics
	fmt.Println(cfg.Validate())
}
`)
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(realCache, "cache", "download")),
		"GOMODCACHE="+filepath.Join(t.TempDir(), "mod"), // never the real cache: it must not learn a test-made v0.x
		"GOFLAGS=-modcacherw -buildvcs=false -trimpath", // -trimpath: the build cache serves the next run, whatever the temporary paths,
		"GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=",
		"GOWORK=off", "GOTOOLCHAIN=local",
	)
	gocmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = user, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s (outside the repository, GOPROXY a local release of %s): %v\n%s",
				strings.Join(args, " "), version, err, out)
		}
	}
	gocmd("get", pluginPath+"@"+version)
	gocmd("build", "-o", filepath.Join(user, "cgpromuser"), ".")
}

// pluginRequiredRootVersion reads plugin/cgprom/go.mod: it must replace
// nothing and require the root module at a release version.
func pluginRequiredRootVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), pluginDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == "replace" {
			t.Errorf("%s/go.mod has %q: Go ignores it for the plugin's users", pluginDir, strings.TrimSpace(line))
		}
		if fields = strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require")); len(fields) >= 2 && fields[0] == rootPath {
			version = fields[1]
		}
	}
	if !releaseVersion.MatchString(version) {
		t.Fatalf("%s/go.mod requires %s at %q: want a release version vX.Y.Z", pluginDir, rootPath, version)
	}
	return version
}

// repoRoot is the repository's root: two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

func goEnv(t *testing.T, goBin, name string) string {
	t.Helper()
	out, err := exec.Command(goBin, "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// moduleFiles lists the files a release would hold: git's tracked and
// untracked-but-not-ignored files (the tree as it would be committed), or
// every regular file when git is not there.
func moduleFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if fi, err := os.Lstat(filepath.Join(root, f)); f != "" && err == nil && fi.Mode().IsRegular() {
				files = append(files, f)
			}
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// inNestedModule says whether file belongs to a module of its own below the
// root (plugin/cgprom, e2e, bench): a directory above it has a go.mod.
func inNestedModule(root, file string) bool {
	for dir := filepath.Dir(file); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(root, dir, "go.mod")); err == nil {
			return true
		}
	}
	return false
}

// publish writes module path at version into the proxy directory, in the
// layout of GOPROXY's protocol: list, .info, .mod and .zip.
func publish(t *testing.T, proxy, path, version, root, dir string, files []string) {
	t.Helper()
	at := filepath.Join(proxy, filepath.FromSlash(path), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(struct{ Version, Time string }{version, time.Now().UTC().Format(time.RFC3339)})
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	for _, f := range files {
		rel := f
		if dir != "" {
			rel = strings.TrimPrefix(f, dir+"/")
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(fmt.Sprintf("%s@%s/%s", path, version, rel))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(at, "list"), version+"\n")
	write(t, filepath.Join(at, version+".info"), string(info))
	write(t, filepath.Join(at, version+".mod"), string(gomod))
	write(t, filepath.Join(at, version+".zip"), zipped.String())
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
