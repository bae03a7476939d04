package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"plugin"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// abi is the version of the set of symbols (and their types) this host expects.
const abi = 1

// metadata is what a plugin's Metadata() returns (JSON).
type metadata struct {
	NFeatures     int      `json:"n_features"`
	NOutputs      int      `json:"n_outputs"`
	OutputKind    string   `json:"output_kind"`
	Task          string   `json:"task"`
	Classes       []any    `json:"classes"`
	FeatureNames  []string `json:"feature_names"`
	Source        string   `json:"source"`
	SourceVersion string   `json:"source_version"`
	Generator     string   `json:"generator"`
	Hash          string   `json:"hash"`
	ABI           int      `json:"abi"`
	FixtureRows   int      `json:"fixture_rows"`
}

// model is one loaded version of a plugin; it never changes once loaded.
type model struct {
	Name     string    `json:"name"`
	File     string    `json:"file"`
	FileHash string    `json:"file_sha256"`
	Module   string    `json:"module"`
	LoadedAt time.Time `json:"loaded_at"`
	Meta     metadata  `json:"metadata"`
	score    func([]float64) []float64
}

// opened remembers every plugin this process has opened, by file content: Go can open one
// build of a module path only once and never unloads it, so an old version that comes back
// (a rollback) is taken from here instead of being opened again.
type opened struct {
	byHash   map[string]*model
	byModule map[string]string // module path -> content hash
	cacheDir string
	tol      float64
}

// load opens plugin file path (content data) as model name, checks it and returns it.
// Every problem a host meets is turned into a message that says what to do.
func (o *opened) load(name, path string, data []byte, hash string) (m *model, err error) {
	if old, ok := o.byHash[hash]; ok {
		copied := *old
		copied.Name, copied.File, copied.LoadedAt = name, path, time.Now()
		return &copied, nil
	}
	// plugin.Open remembers files by path and returns the first plugin opened from a path
	// even after the file changed, so every version gets its own copy, named by content.
	copyPath := filepath.Join(o.cacheDir, fmt.Sprintf("%s-%s.so", name, hash[:16]))
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("cannot copy %s to %s: %v", path, o.cacheDir, err)
	}
	module, err := preflight(path, copyPath)
	if err != nil {
		return nil, err
	}
	if prev, ok := o.byModule[module]; ok && prev != hash {
		return nil, fmt.Errorf("%s has module path %s, which this host already loaded from another build; "+
			"Go loads one build of a module path per process: regenerate the plugin with transpile --plugin "+
			"(each model gets its own module path), or restart the host", path, module)
	}
	defer func() { // a panic in the plugin's initialization must not take the host down
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("%s panicked while loading: %v", path, p)
		}
	}()
	p, err := plugin.Open(copyPath)
	if err != nil {
		return nil, openError(path, copyPath, err)
	}
	o.byModule[module] = hash // opened now, whatever follows
	m = &model{Name: name, File: path, FileHash: hash, Module: module, LoadedAt: time.Now()}
	var fixture func() ([]float64, []float64)
	var describe func() string
	var problems []string
	lookup(p, "Score", &m.score, &problems)
	lookup(p, "Metadata", &describe, &problems)
	lookup(p, "Fixture", &fixture, &problems)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s is not a transpiler plugin of this host's version: %s; generate it with "+
			"transpile MODEL --lang go --plugin", path, strings.Join(problems, "; "))
	}
	if err := json.Unmarshal([]byte(describe()), &m.Meta); err != nil {
		return nil, fmt.Errorf("%s: its Metadata is not valid JSON (%v); regenerate the plugin", path, err)
	}
	if m.Meta.ABI != abi {
		return nil, fmt.Errorf("%s exports plugin symbols version %d, this host reads version %d; "+
			"use a host and a transpiler of matching versions", path, m.Meta.ABI, abi)
	}
	if err := selfCheck(m, fixture, o.tol); err != nil {
		return nil, fmt.Errorf("%s failed its self-check: %v", path, err)
	}
	o.byHash[hash] = m
	return m, nil
}

// lookup finds symbol name and checks its type against *want's, adding a problem otherwise.
func lookup[T any](p *plugin.Plugin, name string, want *T, problems *[]string) {
	sym, err := p.Lookup(name)
	if err != nil {
		*problems = append(*problems, "it has no symbol "+name)
		return
	}
	f, ok := sym.(T)
	if !ok {
		*problems = append(*problems, fmt.Sprintf("%s has type %T, want %T", name, sym, *want))
		return
	}
	*want = f
}

// preflight checks, without loading it, that file is a Go plugin built like this host, and
// returns its module path. Loading anything else could crash the process (dlopen of a
// non-Go library) or fail with a cryptic message.
func preflight(path, file string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%s is not a Go plugin (%s): the file is corrupt, truncated or something else; "+
			"rebuild it with go build -buildmode=plugin and copy it again", path, why)
	}
	f, err := elf.Open(file)
	if err != nil {
		return "", bad(err.Error())
	}
	defer f.Close()
	st, err := os.Stat(file)
	if err != nil {
		return "", bad(err.Error())
	}
	for _, prog := range f.Progs {
		if prog.Off+prog.Filesz > uint64(st.Size()) {
			return "", bad("truncated")
		}
	}
	if f.Type != elf.ET_DYN {
		return "", bad("not a shared object")
	}
	info, err := buildinfo.ReadFile(file)
	if err != nil {
		return "", bad("no Go build information")
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["-buildmode"] != "plugin" {
		return "", fmt.Errorf("%s is a Go library built with -buildmode=%s, not a plugin; "+
			"build it with go build -buildmode=plugin", path, settings["-buildmode"])
	}
	if info.GoVersion != runtime.Version() {
		return "", fmt.Errorf("%s was built with %s and this host with %s; a plugin must be built with "+
			"the same Go as its host: rebuild one of them", path, info.GoVersion, runtime.Version())
	}
	if diff := settingsDiff(settings); diff != "" {
		return "", fmt.Errorf("%s was built with other settings than this host (%s); build both the same way",
			path, diff)
	}
	return info.Main.Path, nil
}

// settingsDiff lists the build settings that must match between a plugin and its host.
func settingsDiff(plugin map[string]string) string {
	host := map[string]string{}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			host[s.Key] = s.Value
		}
	}
	var diff []string
	for _, key := range []string{"GOOS", "GOARCH", "GOAMD64", "GOARM64", "-race", "-msan", "-asan", "-trimpath"} {
		if plugin[key] != host[key] {
			diff = append(diff, fmt.Sprintf("%s: plugin %q, host %q", key, plugin[key], host[key]))
		}
	}
	return strings.Join(diff, ", ")
}

// openError explains a failed plugin.Open.
func openError(path, copyPath string, err error) error {
	msg := strings.ReplaceAll(err.Error(), copyPath, path)
	switch {
	case strings.Contains(msg, "different version of package"):
		return fmt.Errorf("%s and this host were built from different versions of a package (%s); "+
			"rebuild the plugin and the host with the same Go toolchain and settings", path, msg)
	case strings.Contains(msg, "plugin already loaded"):
		return fmt.Errorf("%s has the module path of a plugin this host already loaded; regenerate it "+
			"with transpile --plugin (each model gets its own module path) or restart the host", path)
	}
	return fmt.Errorf("cannot load %s: %s; rebuild it with go build -buildmode=plugin using the "+
		"host's Go (%s)", path, msg, runtime.Version())
}

// selfCheck scores the plugin's fixture rows and compares with the outputs the model gave in
// Python: |got - want| <= tol * max(1, |want|), NaN only where NaN is expected.
func selfCheck(m *model, fixture func() ([]float64, []float64), tol float64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Score panicked: %v", p)
		}
	}()
	rows, want := fixture()
	nf, no := m.Meta.NFeatures, m.Meta.NOutputs
	if nf <= 0 || no <= 0 || len(rows)%nf != 0 || len(want) != len(rows)/nf*no {
		return errors.New("its fixture does not match n_features and n_outputs")
	}
	for r := 0; r < len(rows)/nf; r++ {
		got := m.score(rows[r*nf : (r+1)*nf])
		if len(got) != no {
			return fmt.Errorf("Score returned %d values, metadata says %d", len(got), no)
		}
		for k, g := range got {
			w := want[r*no+k]
			if !(g == w || g != g && w != w || math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
				return fmt.Errorf("row %d output %d is %v, the model gave %v", r, k, g, w)
			}
		}
	}
	return nil
}

func contentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
