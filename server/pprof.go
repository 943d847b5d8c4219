package server

// The pprof endpoints are built here from runtime/pprof and runtime/trace
// rather than taken from net/http/pprof, because that package's init
// registers its handlers on http.DefaultServeMux in every program that links
// it, even if nothing calls it (TestImportLeavesDefaultServeMuxEmpty). They
// follow net/http/pprof (Copyright 2010 The Go Authors, BSD-style licence)
// in paths, parameters, headers and output, except that delta profiles
// (?seconds=N on a named profile) are refused: computing them needs the
// Go toolchain's internal profile package.

import (
	"bufio"
	"bytes"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pprofPrefix is where the pprof endpoints are mounted.
const pprofPrefix = "/debug/pprof/"

// mountPprof mounts the pprof endpoints under /debug/pprof/, on the
// server's own router only.
func (s *SimpleServer) mountPprof() {
	get := []string{http.MethodGet}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(get, pprofPrefix, http.HandlerFunc(pprofIndex), slog.LevelInfo)
	s.addLocked(get, pprofPrefix+"cmdline", http.HandlerFunc(pprofCmdline), slog.LevelInfo)
	s.addLocked(append(get, http.MethodPost), pprofPrefix+"symbol", http.HandlerFunc(pprofSymbol), slog.LevelInfo)
	s.addLocked(get, pprofPrefix+"profile", http.HandlerFunc(pprofCPU), slog.LevelInfo)
	s.addLocked(get, pprofPrefix+"trace", http.HandlerFunc(pprofTrace), slog.LevelInfo)
	// Named profiles (heap, goroutine, allocs, ...) are served by the index.
	s.addLocked(get, pprofPrefix+"{profile}", http.HandlerFunc(pprofIndex), slog.LevelInfo)
}

// pprofCmdline answers with the program's command line, arguments
// separated by NUL bytes.
func pprofCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, strings.Join(os.Args, "\x00"))
}

// pprofSleep waits for d or until the request is done.
func pprofSleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// pprofWriteDeadline extends the connection's write deadline by the
// profiling time, so that Config.HTTPWriteTimeout does not cut a long
// profile short.
func pprofWriteDeadline(w http.ResponseWriter, r *http.Request, seconds float64) {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if ok && srv.WriteTimeout > 0 {
		timeout := srv.WriteTimeout + time.Duration(seconds*float64(time.Second))
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
	}
}

// pprofError answers with a plain text error.
func pprofError(w http.ResponseWriter, status int, txt string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Go-Pprof", "1")
	w.Header().Del("Content-Disposition")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, txt)
}

// pprofCPU answers with a CPU profile of ?seconds=N (default 30).
func pprofCPU(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	sec, err := strconv.ParseInt(r.FormValue("seconds"), 10, 64)
	if sec <= 0 || err != nil {
		sec = 30
	}
	pprofWriteDeadline(w, r, float64(sec))
	// Set the content type assuming StartCPUProfile works, because if it
	// does it starts writing.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	if err := pprof.StartCPUProfile(w); err != nil {
		pprofError(w, http.StatusInternalServerError, "Could not enable CPU profiling: "+err.Error())
		return
	}
	pprofSleep(r, time.Duration(sec)*time.Second)
	pprof.StopCPUProfile()
}

// pprofTrace answers with an execution trace of ?seconds=N (default 1,
// fractions allowed).
func pprofTrace(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	sec, err := strconv.ParseFloat(r.FormValue("seconds"), 64)
	if sec <= 0 || err != nil {
		sec = 1
	}
	pprofWriteDeadline(w, r, sec)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="trace"`)
	if err := trace.Start(w); err != nil {
		pprofError(w, http.StatusInternalServerError, "Could not enable tracing: "+err.Error())
		return
	}
	pprofSleep(r, time.Duration(sec*float64(time.Second)))
	trace.Stop()
}

// pprofSymbol maps the program counters listed in the query (GET) or body
// (POST), separated by '+', to function names.
func pprofSymbol(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")

	// The whole body must be read before writing: buffer the output.
	var buf bytes.Buffer
	// pprof only cares whether this is 0 (no symbols) or more.
	buf.WriteString("num_symbols: 1\n")

	var b *bufio.Reader
	if r.Method == http.MethodPost {
		b = bufio.NewReader(r.Body)
	} else {
		b = bufio.NewReader(strings.NewReader(r.URL.RawQuery))
	}
	for {
		word, err := b.ReadSlice('+')
		if err == nil {
			word = word[:len(word)-1] // trim '+'
		}
		if pc, _ := strconv.ParseUint(string(word), 0, 64); pc != 0 {
			if f := runtime.FuncForPC(uintptr(pc)); f != nil {
				fmt.Fprintf(&buf, "%#x %s\n", pc, f.Name())
			}
		}
		// The last counter has no '+' after it: stop at EOF after it.
		if err != nil {
			if err != io.EOF {
				fmt.Fprintf(&buf, "reading request: %v\n", err)
			}
			break
		}
	}
	_, _ = w.Write(buf.Bytes())
}

// pprofNamed answers with the runtime/pprof profile called name, in the
// binary format or, with ?debug=N, as text. ?gc=1 runs a garbage
// collection before a heap profile.
func pprofNamed(w http.ResponseWriter, r *http.Request, name string) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p := pprof.Lookup(name)
	if p == nil {
		pprofError(w, http.StatusNotFound, "Unknown profile")
		return
	}
	if r.FormValue("seconds") != "" {
		pprofError(w, http.StatusBadRequest, `"seconds" (a delta profile) is not supported by this server: `+
			`take two profiles and compare them with go tool pprof -base`)
		return
	}
	if gc, _ := strconv.Atoi(r.FormValue("gc")); name == "heap" && gc > 0 {
		runtime.GC()
	}
	debug, _ := strconv.Atoi(r.FormValue("debug"))
	if debug != 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	}
	_ = p.WriteTo(w, debug)
}

// pprofDescription describes a profile on the index page.
func pprofDescription(name string) string {
	switch name {
	case "allocs":
		return "A sampling of all past memory allocations"
	case "block":
		return "Stack traces that led to blocking on synchronization primitives"
	case "cmdline":
		return "The command line invocation of the current program"
	case "goroutine":
		return "Stack traces of all current goroutines. Use debug=2 as a query parameter to export in the same format as an unrecovered panic."
	case "goroutineleak":
		return "Stack traces of all leaked goroutines. Use debug=2 as a query parameter to export in the same format as an unrecovered panic."
	case "heap":
		return "A sampling of memory allocations of live objects. You can specify the gc GET parameter to run GC before taking the heap sample."
	case "mutex":
		return "Stack traces of holders of contended mutexes"
	case "profile":
		return "CPU profile. You can specify the duration in the seconds GET parameter. After you get the profile file, use the go tool pprof command to investigate the profile."
	case "symbol":
		return "Maps given program counters to function names. Counters can be specified in a GET raw query or POST body, multiple counters are separated by '+'."
	case "threadcreate":
		return "Stack traces that led to the creation of new OS threads"
	case "trace":
		return "A trace of execution of the current program. You can specify the duration in the seconds GET parameter. After you get the trace file, use the go tool trace command to investigate the trace."
	}
	return ""
}

// pprofIndex serves a named profile at /debug/pprof/NAME and, at
// /debug/pprof/ itself, an HTML page listing the profiles.
func pprofIndex(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, pprofPrefix); ok && name != "" {
		pprofNamed(w, r, name)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")

	type entry struct {
		name  string
		count int
	}
	var profiles []entry
	for _, p := range pprof.Profiles() {
		profiles = append(profiles, entry{p.Name(), p.Count()})
	}
	for _, name := range []string{"cmdline", "profile", "symbol", "trace"} {
		profiles = append(profiles, entry{name: name})
	}
	slices.SortFunc(profiles, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	var b bytes.Buffer
	b.WriteString(`<html>
<head>
<title>/debug/pprof/</title>
<style>
.profile-name{
	display:inline-block;
	width:6rem;
}
</style>
</head>
<body>
/debug/pprof/
<br>
<p>Set debug=1 as a query parameter to export in legacy text format</p>
<br>
Types of profiles available:
<table>
<thead><td>Count</td><td>Profile</td></thead>
`)
	for _, p := range profiles {
		link := &url.URL{Path: p.name, RawQuery: "debug=1"}
		fmt.Fprintf(&b, "<tr><td>%d</td><td><a href='%s'>%s</a></td></tr>\n", p.count, link, html.EscapeString(p.name))
	}
	b.WriteString(`</table>
<a href="goroutine?debug=2">full goroutine stack dump</a>
<br>
<p>
Profile Descriptions:
<ul>
`)
	for _, p := range profiles {
		fmt.Fprintf(&b, "<li><div class=profile-name>%s: </div> %s</li>\n", html.EscapeString(p.name), html.EscapeString(pprofDescription(p.name)))
	}
	b.WriteString(`</ul>
</p>
</body>
</html>`)
	_, _ = w.Write(b.Bytes())
}
