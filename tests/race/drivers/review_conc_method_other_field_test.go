package checker

import (
	"strings"
	"testing"
)

func lines(prefix string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(prefix)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("\n")
	}
	return b.String()
}

// The second goroutine counts the first one's map while the first one fills it.
func TestRaceSloppyRemaining(t *testing.T) {
	for round := 0; round < 8; round++ {
		s := &SloppyChecker{stdoutWants: map[string]bool{}, stdout: strings.NewReader(lines("out", 200)),
			results: make(chan int)}
		s.Run()
		<-s.results
	}
}

// Each goroutine strikes the lines it saw off its own map; they share only the locked transcript.
func TestCleanLineChecker(t *testing.T) {
	for round := 0; round < 8; round++ {
		l := &LineChecker{
			stdoutWants: map[string]bool{"ready": true, "serving": true, "never": true},
			stderrWants: map[string]bool{"warn": true, "error": true},
			stdout:      strings.NewReader("boot\nready\nserving on :80\n" + lines("out", 100)),
			stderr:      strings.NewReader("warn: slow\n" + lines("err", 100)),
			results:     make(chan map[string]bool),
		}
		l.Run()
		left := len(<-l.results) + len(<-l.results)
		if left != 2 { // "never" and "error" were not seen
			t.Fatalf("%d wanted lines left, want 2", left)
		}
	}
}
