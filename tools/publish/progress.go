package publish

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// Progress reports what a push does. On a terminal it keeps a live view
// (one line per blob in flight with its rate, and a total) redrawn in
// place, above which finished blobs are printed; otherwise it prints one
// short line per blob and per step. It is safe for concurrent use.
type Progress struct {
	w   io.Writer
	tty bool

	mu        sync.Mutex
	start     time.Time
	total     int
	bytes     int64
	done      int
	sent      int64 // bytes of finished blobs
	active    map[digest.Digest]*transfer
	retries   int
	drawn     int // lines of the live view on screen
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

type transfer struct {
	d       digest.Digest
	size    int64
	sent    int64
	verb    string
	started time.Time
}

// NewProgress returns a Progress writing to w, live when tty is set.
func NewProgress(w io.Writer, tty bool) *Progress {
	return &Progress{w: w, tty: tty, start: time.Now(), active: map[digest.Digest]*transfer{}}
}

// IsTerminal reports whether w is a terminal that can redraw lines (a
// character device, and TERM is not "dumb").
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && f.Name() != os.DevNull
}

// Start begins the live view for total blobs of bytes in all.
func (p *Progress) Start(total int, bytes int64) {
	p.mu.Lock()
	p.start, p.total, p.bytes = time.Now(), total, bytes
	p.mu.Unlock()
	if p.tty && p.stop == nil {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
}

func (p *Progress) loop() {
	defer close(p.stopped)
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw(nil)
			p.mu.Unlock()
		}
	}
}

// Close ends the live view, leaving the finished lines.
func (p *Progress) Close() {
	p.closeOnce.Do(func() {
		if p.stop != nil {
			close(p.stop)
			<-p.stopped
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.tty {
			p.clear()
		}
		// What comes after the transfers is printed line by line.
		p.tty = false
	})
}

// BlobStart says a transfer of blob d (size bytes) begins; verb is what is
// happening ("push", "copy").
func (p *Progress) BlobStart(d digest.Digest, size int64, verb string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active[d] = &transfer{d: d, size: size, verb: verb, started: time.Now()}
}

// BlobSent records that sent bytes of d went out in the current attempt.
func (p *Progress) BlobSent(d digest.Digest, sent int64) {
	p.mu.Lock()
	if t := p.active[d]; t != nil {
		t.sent = sent
	}
	p.mu.Unlock()
}

// BlobDone prints the outcome of blob d: "pushed", "exists", "mounted",
// "copied"; from names the source repository of a mount or copy.
func (p *Progress) BlobDone(d digest.Digest, size int64, outcome, from string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var took time.Duration
	if t := p.active[d]; t != nil {
		took = time.Since(t.started)
		delete(p.active, d)
	}
	p.done++
	p.sent += size
	line := fmt.Sprintf("%s %s %s", outcome, ShortDigest(d), FormatBytes(size))
	if from != "" {
		line += " from " + from
	}
	if outcome == "pushed" || outcome == "copied" {
		line += fmt.Sprintf(" in %s (%s)", FormatDuration(took), FormatRate(size, took))
	}
	p.println(line)
}

// BlobFailed forgets a transfer that failed (the error is reported by the
// caller).
func (p *Progress) BlobFailed(d digest.Digest) {
	p.mu.Lock()
	delete(p.active, d)
	p.mu.Unlock()
}

// Retry reports that what (a digest, a manifest) is tried again.
func (p *Progress) Retry(what string, attempt int, wait time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retries++
	p.println(fmt.Sprintf("retry %s (attempt %d in %s): %v", what, attempt, FormatDuration(wait), err))
}

// Printf prints a line (a manifest, a tag, a summary) above the live view.
func (p *Progress) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.println(fmt.Sprintf(format, args...))
}

// println prints a finished line; p.mu is held.
func (p *Progress) println(line string) {
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	p.redraw([]string{line})
}

// clear erases the live view; p.mu is held.
func (p *Progress) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
	}
}

// redraw erases the live view, prints the finished lines, and draws the
// view again; p.mu is held.
func (p *Progress) redraw(finished []string) {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", p.drawn)
	}
	for _, l := range finished {
		b.WriteString(l)
		b.WriteString("\n")
	}
	lines := p.liveLines()
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n")
	}
	p.drawn = len(lines)
	io.WriteString(p.w, b.String())
}

// liveLines is the live view: one line per transfer, then the total.
func (p *Progress) liveLines() []string {
	if p.total == 0 && len(p.active) == 0 {
		return nil
	}
	ts := make([]*transfer, 0, len(p.active))
	for _, t := range p.active {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].started.Before(ts[j].started) })
	var lines []string
	inFlight := int64(0)
	for _, t := range ts {
		inFlight += t.sent
		el := time.Since(t.started)
		lines = append(lines, fmt.Sprintf("%-6s %s %s %8s / %-8s %s", t.verb, ShortDigest(t.d), bar(t.sent, t.size, 20), FormatBytes(t.sent), FormatBytes(t.size), FormatRate(t.sent, el)))
	}
	all := p.sent + inFlight
	el := time.Since(p.start)
	total := fmt.Sprintf("total  %d/%d blobs %s %8s / %-8s %s, %s", p.done, p.total, bar(all, p.bytes, 20), FormatBytes(all), FormatBytes(p.bytes), FormatRate(all, el), FormatDuration(el))
	if p.retries > 0 {
		total += fmt.Sprintf(", %d retries", p.retries)
	}
	return append(lines, total)
}

func bar(n, of int64, width int) string {
	fill := width
	if of > 0 {
		fill = int(int64(width) * n / of)
	}
	if fill > width {
		fill = width
	}
	return "[" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "]"
}

// ShortDigest shortens a digest for progress lines: "sha256:3a3d9eee69a4…".
func ShortDigest(d digest.Digest) string {
	s := d.String()
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13] + "…"
	}
	return s
}

// FormatBytes formats a size in SI units, as docker does: "12.3 MB".
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f PB", f/unit)
}

// FormatRate formats n bytes in d as bytes per second.
func FormatRate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- B/s"
	}
	return FormatBytes(int64(float64(n)/d.Seconds())) + "/s"
}

// FormatDuration rounds a duration for humans: "512ms", "1.2s", "1m3s".
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Plural formats a count of things: "1 blob", "2 blobs", "3 retries".
func Plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if strings.HasSuffix(thing, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(thing, "y"))
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
